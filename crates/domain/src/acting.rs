//! Whom a request acts for, answered once: the caller themselves, or a user of the caller's
//! organisation whose seals, PIN and certificates the caller (an administrator) manages. An
//! [`Acting`] exists only once that permission was checked, so the operations that take one need
//! not check it again; what the user acted for may hold (seals, a certificate) is the resource's
//! own rule, applied with [`Acting::admit`].

use crate::accounts::{self, User};
use crate::db::Db;
use crate::error::Failure;
use crate::permissions::{require, Action};

/// Whom the request names: nobody (the caller), or a user by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whom<'a> {
    Caller,
    User(&'a str),
}

impl<'a> Whom<'a> {
    /// A form's or query's optional user id: empty or absent means the caller.
    pub fn from_optional(id: Option<&'a str>) -> Self {
        match id.filter(|id| !id.is_empty()) {
            Some(id) => Whom::User(id),
            None => Whom::Caller,
        }
    }
}

/// The caller (`actor`) acting for `user`: themselves, or a user of their organisation they
/// manage.
#[derive(Debug, Clone)]
pub struct Acting {
    actor: User,
    user: Option<User>,
}

/// What a user must be for a resource to be theirs (e.g. only signers hold seals).
pub type Rule = fn(&Acting) -> Result<(), Failure>;

impl Acting {
    /// The caller for themselves.
    pub fn caller(actor: User) -> Self {
        Self { actor, user: None }
    }

    /// Resolves `whom` for `actor`: naming a user by id (oneself included: an administrator's
    /// own 詳細 page) needs the right to manage others' seals and certificates, and a user of the
    /// actor's organisation (another organisation's user is not found, the same answer as an
    /// unknown id).
    pub async fn resolve(db: &Db, actor: User, whom: Whom<'_>) -> Result<Self, Failure> {
        match whom {
            Whom::User(id) => {
                require(actor.roles, Action::OthersSealsAndCertificates)?;
                let user = accounts::get_user(db, &actor.org_id, id).await?;
                Ok(Self {
                    actor,
                    user: Some(user),
                })
            }
            Whom::Caller => Ok(Self::caller(actor)),
        }
    }

    /// Applies the resource's rule about whom it may be acted for.
    pub fn admit(self, rule: Rule) -> Result<Self, Failure> {
        rule(&self)?;
        Ok(self)
    }

    /// Who is acting (recorded in the audit log).
    pub fn actor(&self) -> &User {
        &self.actor
    }

    /// Whom it is for.
    pub fn user(&self) -> &User {
        self.user.as_ref().unwrap_or(&self.actor)
    }

    /// Whether the caller acts for themselves (also when they named themselves by id).
    pub fn for_self(&self) -> bool {
        self.user().id == self.actor.id
    }

    /// The user named by id (`/api/users/{id}/…`, a page's `user` field), if one was.
    pub fn named(&self) -> Option<&User> {
        self.user.as_ref()
    }
}
