//! Contract drafts (`domain::contracts`) on SQLite and PostgreSQL: a document manager creates one
//! and names its parties — users of the organisation or of another organisation found by email,
//! outside parties by name and email — with the rules on who signs how; who sees a contract; and
//! the contract's own history.

use domain::accounts::User;
use domain::contracts::{self, ContractStatus, NewParty, PartyRole, PartyStatus, SignatureKind};
use domain::error::{Failure, FieldError};

use crate::on_both_databases;
use crate::support::{Backend, Instance, TestDb, FIXTURE_NOW as NOW};

struct People {
    admin: User,
    manager: User,
    other_manager: User,
    signer: User,
    agent: User,
    stranger_signer: User,
}

async fn people(t: &TestDb) -> People {
    let instance = Instance::new(t, "Contract Test", "contract.example").await;
    let admin = instance.admin.clone();
    let user = |email: &'static str, roles: &'static [&'static str]| {
        let admin = admin.clone();
        async move { Instance::user(t, &admin, email, roles).await }
    };
    People {
        manager: user("dm@contract.example", &["document_manager"]).await,
        other_manager: user("dm2@contract.example", &["document_manager"]).await,
        signer: user("signer@contract.example", &["signer"]).await,
        agent: user("agent@contract.example", &["transaction_agent"]).await,
        stranger_signer: Instance::user(
            t,
            &instance.other_admin,
            "signer@other.example",
            &["signer"],
        )
        .await,
        admin,
    }
}

fn party(role: &str, step: i64, kind: Option<&str>, email: &str, name: &str) -> NewParty {
    NewParty {
        role: role.into(),
        step,
        signature_kind: kind.map(str::to_owned),
        email: email.into(),
        name: name.into(),
    }
}

fn fields(f: &Failure) -> Vec<&'static str> {
    f.fields().iter().map(|e: &FieldError| e.key).collect()
}

on_both_databases!(
    a_document_manager_drafts_a_contract_with_parties_of_every_kind,
    who_signs_how_is_checked_when_a_party_is_added,
    a_contract_is_seen_by_its_sender_and_the_organisations_administrators_only,
);

async fn a_document_manager_drafts_a_contract_with_parties_of_every_kind(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let draft = contracts::create_draft(&t.db, NOW, &p.manager, "  業務委託契約書  ")
        .await
        .expect("draft");
    assert_eq!(draft.title, "業務委託契約書");
    assert_eq!(draft.status, ContractStatus::Draft);
    assert_eq!((draft.reminder_days, draft.max_reminders), (3, 5));
    let id = draft.id.clone();
    let add = |np: NewParty| {
        let (db, manager, id) = (t.db.clone(), p.manager.clone(), id.clone());
        async move { contracts::add_party(&db, NOW, &manager, &id, &np).await }
    };
    let own = add(party(
        "signer",
        1,
        Some("certificate"),
        "SIGNER@contract.example",
        "",
    ))
    .await
    .expect("own signer");
    assert_eq!(own.user_id.as_deref(), Some(p.signer.id.as_str()));
    assert_eq!(own.name, "Someone", "a user's display name by default");
    assert_eq!(own.signature_kind, Some(SignatureKind::Certificate));
    assert_eq!(own.status, PartyStatus::Waiting);
    let agent = add(party(
        "signer",
        2,
        Some("simple"),
        "agent@contract.example",
        "取引士",
    ))
    .await
    .expect("agent");
    assert_eq!(agent.user_id.as_deref(), Some(p.agent.id.as_str()));
    let outside = add(party(
        "signer",
        2,
        Some("simple"),
        "guest@example.com",
        "外部 太郎",
    ))
    .await
    .expect("outside");
    assert_eq!(outside.user_id, None);
    let approver = add(party("approver", 3, None, "admin@contract.example", ""))
        .await
        .expect("approver");
    assert_eq!(approver.role, PartyRole::Approver);
    let stranger = add(party(
        "signer",
        4,
        Some("certificate"),
        "signer@other.example",
        "",
    ))
    .await
    .expect("another organisation's signer");
    assert_eq!(
        stranger.user_id.as_deref(),
        Some(p.stranger_signer.id.as_str())
    );
    add(party(
        "copy_recipient",
        5,
        None,
        "legal@example.com",
        "法務部",
    ))
    .await
    .expect("copy");

    let contract = contracts::get(&t.db, &p.manager, &id).await.expect("get");
    let steps: Vec<(i64, i64)> = contract
        .parties
        .iter()
        .map(|p| (p.step, p.position))
        .collect();
    assert_eq!(steps, vec![(1, 1), (2, 2), (2, 3), (3, 4), (4, 5), (5, 6)]);
    let history = contracts::events(&t.db, &p.manager, &id)
        .await
        .expect("events");
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds[0], "contract.created");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "contract.party_added")
            .count(),
        6
    );
    assert!(history
        .iter()
        .all(|e| e.actor_email == "dm@contract.example"));
    // Everything also went to the audit log.
    let audited = t
        .count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'contract.%'")
        .await;
    assert_eq!(audited, 7);
}

async fn who_signs_how_is_checked_when_a_party_is_added(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let id = contracts::create_draft(&t.db, NOW, &p.manager, "売買契約書")
        .await
        .expect("draft")
        .id;
    let refused = |np: NewParty| {
        let (db, manager, id) = (t.db.clone(), p.manager.clone(), id.clone());
        async move {
            contracts::add_party(&db, NOW, &manager, &id, &np)
                .await
                .expect_err("refused")
        }
    };
    // Several problems at once, each by field.
    let f = refused(party("boss", 0, None, "not-an-email", "")).await;
    assert_eq!(
        fields(&f),
        vec!["error.party_role", "error.party_step", "error.email_no_at"]
    );
    let f = refused(party("signer", 1, None, "guest@example.com", "Guest")).await;
    assert_eq!(fields(&f), vec!["error.required"]);
    let f = refused(party(
        "approver",
        1,
        Some("simple"),
        "guest@example.com",
        "Guest",
    ))
    .await;
    assert_eq!(fields(&f), vec!["error.signature_kind_unused"]);
    // Certificate signatures: a signer of the instance only.
    let f = refused(party(
        "signer",
        1,
        Some("certificate"),
        "guest@example.com",
        "Guest",
    ))
    .await;
    assert_eq!(fields(&f), vec!["error.outside_party_simple_only"]);
    let f = refused(party(
        "signer",
        1,
        Some("certificate"),
        "agent@contract.example",
        "",
    ))
    .await;
    assert_eq!(fields(&f), vec!["error.agent_simple_only"]);
    let f = refused(party(
        "signer",
        1,
        Some("certificate"),
        "dm2@contract.example",
        "",
    ))
    .await;
    assert_eq!(fields(&f), vec!["error.not_a_signer"]);
    // An outside party needs a name.
    let f = refused(party("signer", 1, Some("simple"), "guest@example.com", " ")).await;
    assert_eq!(fields(&f), vec!["error.required"]);
    // Nothing was stored by any refusal.
    let stored = t.count("SELECT COUNT(*) FROM contract_parties").await;
    assert_eq!(stored, 0);
    // Only the sender changes the draft; others are refused, another organisation's not found.
    let other = contracts::add_party(
        &t.db,
        NOW,
        &p.other_manager,
        &id,
        &party("signer", 1, Some("simple"), "guest@example.com", "Guest"),
    )
    .await;
    assert!(matches!(other, Err(Failure::NotFound)), "{other:?}");
    let admin = contracts::add_party(
        &t.db,
        NOW,
        &p.admin,
        &id,
        &party("signer", 1, Some("simple"), "guest@example.com", "Guest"),
    )
    .await;
    assert!(matches!(admin, Err(Failure::Forbidden)), "{admin:?}");
    let stranger = contracts::add_party(
        &t.db,
        NOW,
        &p.stranger_signer,
        &id,
        &party("signer", 1, Some("simple"), "guest@example.com", "Guest"),
    )
    .await;
    // Not a document manager: refused before the contract is looked up.
    assert!(matches!(stranger, Err(Failure::Forbidden)), "{stranger:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM contract_parties").await, 0);
}

async fn a_contract_is_seen_by_its_sender_and_the_organisations_administrators_only(
    backend: Backend,
) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let mine = contracts::create_draft(&t.db, NOW, &p.manager, "A")
        .await
        .expect("a");
    let theirs = contracts::create_draft(&t.db, NOW + 1, &p.other_manager, "B")
        .await
        .expect("b");
    let titles = |list: Vec<contracts::Contract>| -> Vec<String> {
        list.into_iter().map(|c| c.title).collect()
    };
    assert_eq!(
        titles(contracts::list(&t.db, &p.manager).await.expect("list")),
        ["A"]
    );
    assert_eq!(
        titles(contracts::list(&t.db, &p.admin).await.expect("list")),
        ["B", "A"],
        "an administrator sees the organisation's, newest first"
    );
    assert!(matches!(
        contracts::list(&t.db, &p.signer).await,
        Err(Failure::Forbidden)
    ));
    for (who, id) in [
        (&p.other_manager, &mine.id),
        (&p.signer, &mine.id),
        (&p.stranger_signer, &theirs.id),
    ] {
        assert!(matches!(
            contracts::get(&t.db, who, id).await,
            Err(Failure::NotFound)
        ));
    }
    assert!(contracts::get(&t.db, &p.admin, &theirs.id).await.is_ok());
    // Drafting is a document manager's.
    for who in [&p.admin, &p.signer, &p.agent] {
        assert!(matches!(
            contracts::create_draft(&t.db, NOW, who, "X").await,
            Err(Failure::Forbidden)
        ));
    }
    assert!(matches!(
        contracts::create_draft(&t.db, NOW, &p.manager, " ").await,
        Err(Failure::Invalid(_))
    ));
}
