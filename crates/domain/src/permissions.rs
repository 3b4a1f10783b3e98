//! Who may do what: one table from role combination to the actions it allows, checked by every
//! handler through [`require`]. The README's permission matrix is this table in prose; the
//! integration test `matrix` checks the live server against its own literal copy of the README
//! table, not against this code.

use crate::accounts::{Role, RoleSet};
use crate::error::Failure;

// Contracts and simple signatures are in the README's table and enforced here; their endpoints
// arrive with the contract issue.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See and change one's own profile and password.
    OwnProfile,
    /// List, create, change and deactivate the organisation's users; read its audit log.
    ManageUsers,
    /// Manage other users' seals and certificates (applications, renewals, PIN resets).
    OthersSealsAndCertificates,
    /// Register one's own seals and apply for one's own certificate.
    OwnSealsAndCertificate,
    /// Upload contracts, name signers, place seals, send, follow and cancel.
    ManageContracts,
    /// Sign with one's own certificate (当事者型).
    CertificateSignature,
    /// Sign with the organisation's platform certificate (立会人型).
    SimpleSignature,
    /// Create organisations and see their list (the instance operator).
    ManageOrganisations,
    /// Work the identity-check queue of certificate applications (the instance operator).
    IdentityChecks,
}

/// Whether `roles` allow `action`.
pub fn allows(roles: RoleSet, action: Action) -> bool {
    let admin = roles.has(Role::Administrator);
    let manager = roles.has(Role::DocumentManager);
    let signer = roles.has(Role::Signer);
    let agent = roles.has(Role::TransactionAgent);
    let operator = roles.has(Role::Operator);
    match action {
        Action::OwnProfile => true,
        Action::ManageUsers | Action::OthersSealsAndCertificates => admin,
        Action::OwnSealsAndCertificate | Action::CertificateSignature => signer,
        Action::ManageContracts => manager,
        Action::SimpleSignature => signer || agent,
        Action::ManageOrganisations | Action::IdentityChecks => operator,
    }
}

/// `Ok` if allowed, else 403.
pub fn require(roles: RoleSet, action: Action) -> Result<(), Failure> {
    if allows(roles, action) {
        Ok(())
    } else {
        Err(Failure::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_administrator_without_the_signer_role_cannot_sign_with_a_certificate() {
        assert!(!allows(
            RoleSet::only(Role::Administrator),
            Action::CertificateSignature
        ));
    }

    #[test]
    fn a_transaction_agent_can_only_make_simple_signatures() {
        let agent = RoleSet::only(Role::TransactionAgent);
        assert!(allows(agent, Action::SimpleSignature));
        assert!(!allows(agent, Action::CertificateSignature));
        assert!(!allows(agent, Action::OwnSealsAndCertificate));
    }

    #[test]
    fn the_operator_sees_no_organisation_business() {
        let op = RoleSet::only(Role::Operator);
        for a in [
            Action::ManageUsers,
            Action::ManageContracts,
            Action::CertificateSignature,
            Action::SimpleSignature,
            Action::OthersSealsAndCertificates,
        ] {
            assert!(!allows(op, a), "{a:?}");
        }
    }
}
