//! Whom a request acts for, answered once by `Acting::resolve`: the caller, a user of the
//! caller's organisation for an administrator, and the refusals (not an administrator, another
//! organisation's user, an unknown id), then a resource's own rule applied with `admit`.

use domain::accounts::User;
use domain::acting::{Acting, Whom};
use domain::error::Failure;
use domain::{pins, seals};

use crate::on_both_databases;
use crate::support::{Backend, Instance, TestDb, FIXTURE_NOW as NOW};

/// The first organisation's administrator, its signer, its transaction agent, and another
/// organisation's signer.
struct People {
    admin: User,
    signer: User,
    agent: User,
    stranger: User,
}

async fn people(t: &TestDb) -> People {
    let instance = Instance::new(t, "Acting Test", "acting.example").await;
    let admin = instance.admin.clone();
    People {
        signer: Instance::user(t, &admin, "signer@acting.example", &["signer"]).await,
        agent: Instance::user(t, &admin, "agent@acting.example", &["transaction_agent"]).await,
        stranger: Instance::user(
            t,
            &instance.other_admin,
            "signer@other.example",
            &["signer"],
        )
        .await,
        admin,
    }
}

on_both_databases!(
    the_caller_acts_for_themselves_without_naming_anyone,
    an_administrator_acts_for_a_user_of_their_organisation_only,
    only_an_administrator_may_name_a_user,
    the_resources_rule_is_applied_to_the_user_acted_for,
);

async fn the_caller_acts_for_themselves_without_naming_anyone(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let acting = Acting::resolve(&t.db, p.signer.clone(), Whom::Caller)
        .await
        .expect("oneself");
    assert!(acting.for_self());
    assert!(acting.named().is_none());
    assert_eq!(acting.user().id, p.signer.id);
    assert_eq!(acting.actor().id, p.signer.id);
    // An empty `user` field is nobody named.
    assert_eq!(Whom::from_optional(Some("")), Whom::Caller);
    assert_eq!(Whom::from_optional(None), Whom::Caller);
}

async fn an_administrator_acts_for_a_user_of_their_organisation_only(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let acting = Acting::resolve(&t.db, p.admin.clone(), Whom::User(&p.signer.id))
        .await
        .expect("a user of the organisation");
    assert!(!acting.for_self());
    assert_eq!(acting.user().id, p.signer.id);
    assert_eq!(acting.actor().id, p.admin.id);
    assert_eq!(
        acting.named().map(|u| u.id.as_str()),
        Some(p.signer.id.as_str())
    );

    // Naming oneself is acting for oneself, through the same check.
    let own = Acting::resolve(&t.db, p.admin.clone(), Whom::User(&p.admin.id))
        .await
        .expect("oneself by id");
    assert!(own.for_self());

    // Another organisation's user is not found: the same answer as an id that does not exist.
    for id in [p.stranger.id.as_str(), "no-such-user"] {
        let refused = Acting::resolve(&t.db, p.admin.clone(), Whom::User(id)).await;
        assert!(
            matches!(refused, Err(Failure::NotFound)),
            "{id}: {refused:?}"
        );
    }
}

async fn only_an_administrator_may_name_a_user(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    for caller in [&p.signer, &p.agent] {
        // Forbidden before the id is looked up: a signer learns nothing about other users.
        for id in [p.admin.id.as_str(), "no-such-user"] {
            let refused = Acting::resolve(&t.db, caller.clone(), Whom::User(id)).await;
            assert!(matches!(refused, Err(Failure::Forbidden)), "{refused:?}");
        }
    }
}

async fn the_resources_rule_is_applied_to_the_user_acted_for(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    // Seals: only signers hold them; a transaction agent is told why.
    let for_agent = Acting::resolve(&t.db, p.admin.clone(), Whom::User(&p.agent.id))
        .await
        .expect("agent");
    assert!(matches!(
        for_agent.clone().admit(seals::holder),
        Err(Failure::BadRequest("error.agent_no_seals"))
    ));
    let for_signer = Acting::resolve(&t.db, p.admin.clone(), Whom::User(&p.signer.id))
        .await
        .expect("signer");
    assert!(for_signer.clone().admit(seals::holder).is_ok());
    // An administrator without the signer role holds no seals of their own.
    let admin_self = Acting::caller(p.admin.clone());
    assert!(matches!(
        admin_self.clone().admit(seals::holder),
        Err(Failure::Forbidden)
    ));
    // The PIN: one's own needs the signer's right; an administrator may manage anyone's.
    assert!(matches!(
        admin_self.admit(pins::holder),
        Err(Failure::Forbidden)
    ));
    assert!(Acting::caller(p.signer.clone()).admit(pins::holder).is_ok());
    assert!(for_agent.admit(pins::holder).is_ok());
    // Lifting a PIN lock is an administrator's act, never the locked signer's own.
    let own_unlock = pins::unlock(&t.db, NOW, &Acting::caller(p.signer.clone())).await;
    assert!(
        matches!(own_unlock, Err(Failure::Forbidden)),
        "{own_unlock:?}"
    );
}
