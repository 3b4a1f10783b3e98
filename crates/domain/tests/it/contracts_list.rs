//! The contract screens' domain calls on SQLite and PostgreSQL: a page of the contracts each user
//! may see (filtered by status, searched by title and by a party's name or address, sorted by
//! creation or last change) with the counts per status; "waiting for me" (a party's turns, of any
//! organisation) and the link that opens one; the people a document manager may name, with why a
//! certificate signature is not available to each; and the draft's changes the preparation
//! screen makes (a party's role, step, kind and name; a field moved, resized and relabelled).

use domain::accounts::User;
use domain::contracts::{
    self, ContractStatus, Counts, FieldChange, ListQuery, ListSort, NewField, NewParty, PartyChange,
};
use domain::error::Failure;
use domain::storage::DocumentStore;

use crate::on_both_databases;
use crate::support::{Backend, Instance, TestDb, FIXTURE_NOW as NOW};

struct People {
    admin: User,
    operator: User,
    other_admin: User,
    manager: User,
    other_manager: User,
    signer: User,
    agent: User,
    stranger_signer: User,
}

async fn people(t: &TestDb) -> People {
    let instance = Instance::new(t, "List Test", "list.example").await;
    let admin = instance.admin.clone();
    let user = |email: &'static str, roles: &'static [&'static str]| {
        let admin = admin.clone();
        async move { Instance::user(t, &admin, email, roles).await }
    };
    People {
        manager: user("dm@list.example", &["document_manager"]).await,
        other_manager: user("dm2@list.example", &["document_manager"]).await,
        signer: user("signer@list.example", &["signer"]).await,
        agent: user("agent@list.example", &["transaction_agent"]).await,
        stranger_signer: Instance::user(
            t,
            &instance.other_admin,
            "signer@other.example",
            &["signer"],
        )
        .await,
        operator: instance.operator,
        other_admin: instance.other_admin,
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

fn query(f: impl FnOnce(&mut ListQuery)) -> ListQuery {
    let mut q = ListQuery::default();
    f(&mut q);
    q
}

async fn titles(t: &TestDb, user: &User, q: &ListQuery) -> Vec<String> {
    contracts::list_page(&t.db, user, q)
        .await
        .expect("a page")
        .contracts
        .into_iter()
        .map(|c| c.title)
        .collect()
}

async fn sql(t: &TestDb, statement: &str, id: &str) {
    sqlx::query(statement)
        .bind(id)
        .execute(&t.db.pool)
        .await
        .expect("update");
}

fn keys(f: &Failure) -> Vec<(&'static str, &'static str)> {
    f.fields().iter().map(|e| (e.field, e.key)).collect()
}

/// A one-page A4 PDF.
fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n0 4\n0000000000 65535 f \n");
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    out
}

on_both_databases!(
    a_page_of_contracts_is_filtered_searched_sorted_and_counted_for_who_may_see_it,
    waiting_for_me_lists_a_users_turns_and_opens_them,
    the_people_to_name_say_why_a_certificate_signature_is_not_available,
    a_drafts_parties_and_fields_change_by_the_rules_of_placing_them,
);

async fn a_page_of_contracts_is_filtered_searched_sorted_and_counted_for_who_may_see_it(
    backend: Backend,
) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let mut ids = Vec::new();
    for (i, title) in [
        "Alpha 契約",
        "Beta 契約",
        "Gamma 100% 契約",
        "Delta 契約",
        "Epsilon 契約",
    ]
    .into_iter()
    .enumerate()
    {
        let draft = contracts::create_draft(&t.db, NOW + i as i64 * 60, &p.manager, title)
            .await
            .expect("draft");
        ids.push(draft.id);
    }
    contracts::create_draft(&t.db, NOW, &p.other_manager, "Other 契約")
        .await
        .expect("draft");
    contracts::add_party(
        &t.db,
        NOW + 400,
        &p.manager,
        &ids[1],
        &party(
            "signer",
            1,
            Some("simple"),
            "Partner@Shoji.example",
            "Partner 商事",
        ),
    )
    .await
    .expect("party");
    sql(
        &t,
        "UPDATE contracts SET status = 'cancelled' WHERE id = $1",
        &ids[3],
    )
    .await;
    sql(
        &t,
        "UPDATE contracts SET status = 'sent' WHERE id = $1",
        &ids[4],
    )
    .await;

    // Newest first, a page at a time, with the total.
    let all = |_: &mut ListQuery| {};
    assert_eq!(
        titles(&t, &p.manager, &query(all)).await,
        [
            "Epsilon 契約",
            "Delta 契約",
            "Gamma 100% 契約",
            "Beta 契約",
            "Alpha 契約"
        ]
    );
    let page = contracts::list_page(
        &t.db,
        &p.manager,
        &query(|q| {
            q.limit = 2;
            q.page = 3;
        }),
    )
    .await
    .expect("page");
    assert_eq!((page.total, page.pages(), page.contracts.len()), (5, 3, 1));
    assert_eq!(page.contracts[0].title, "Alpha 契約");
    assert!(
        contracts::list_page(&t.db, &p.manager, &query(|q| q.page = 9))
            .await
            .expect("past the end")
            .contracts
            .is_empty()
    );
    // By status; by title, by a party's name or address (any case); % taken literally.
    let by = |s: &str| {
        let s = s.to_owned();
        query(move |q| q.search = s)
    };
    assert_eq!(
        titles(
            &t,
            &p.manager,
            &query(|q| q.status = Some(ContractStatus::Draft))
        )
        .await,
        ["Gamma 100% 契約", "Beta 契約", "Alpha 契約"]
    );
    assert_eq!(
        titles(&t, &p.manager, &by("gamma")).await,
        ["Gamma 100% 契約"]
    );
    assert_eq!(titles(&t, &p.manager, &by("商事")).await, ["Beta 契約"]);
    assert_eq!(
        titles(&t, &p.manager, &by("partner@SHOJI")).await,
        ["Beta 契約"]
    );
    assert_eq!(
        titles(&t, &p.manager, &by("100%")).await,
        ["Gamma 100% 契約"]
    );
    assert!(titles(&t, &p.manager, &by("0%契")).await.is_empty());
    // By the last change: the party added made Beta the latest.
    assert_eq!(
        titles(&t, &p.manager, &query(|q| q.sort = ListSort::Updated)).await[0],
        "Beta 契約"
    );
    // Who sees what: the administrator all of the organisation, the other organisation none.
    assert_eq!(titles(&t, &p.admin, &query(all)).await.len(), 6);
    assert!(titles(&t, &p.other_admin, &query(all)).await.is_empty());
    assert!(matches!(
        contracts::list_page(&t.db, &p.signer, &query(all)).await,
        Err(Failure::Forbidden)
    ));
    assert!(matches!(
        contracts::list_page(&t.db, &p.operator, &query(|q| q.waiting = true)).await,
        Err(Failure::Forbidden)
    ));
    // The counts follow the search.
    let counts = contracts::counts(&t.db, &p.manager, "")
        .await
        .expect("counts");
    assert_eq!(
        counts,
        Counts {
            all: Some(5),
            draft: Some(3),
            sent: Some(1),
            completed: Some(0),
            declined: Some(0),
            cancelled: Some(1),
            expired: Some(0),
            waiting: 0,
        }
    );
    let counts = contracts::counts(&t.db, &p.manager, "ALPHA")
        .await
        .expect("counts");
    assert_eq!((counts.all, counts.draft), (Some(1), Some(1)));
    let counts = contracts::counts(&t.db, &p.signer, "")
        .await
        .expect("counts");
    assert_eq!(counts, Counts::default());
    // The parameters as pages and the API give them.
    let parsed = ListQuery::parse(
        Some("sent"),
        Some(" Beta "),
        Some("true"),
        Some("updated"),
        Some("2"),
        Some("5"),
    )
    .expect("valid");
    assert_eq!(
        parsed,
        ListQuery {
            status: Some(ContractStatus::Sent),
            search: "Beta".into(),
            waiting: true,
            sort: ListSort::Updated,
            page: 2,
            limit: 5,
        }
    );
    let refused = ListQuery::parse(
        Some("x"),
        None,
        Some("yes"),
        Some("x"),
        Some("0"),
        Some("x"),
    )
    .expect_err("invalid");
    assert_eq!(
        keys(&refused),
        [
            ("status", "error.list_status"),
            ("waiting", "error.list_flag"),
            ("sort", "error.list_sort"),
            ("page", "error.list_page"),
            ("limit", "error.list_limit"),
        ]
    );
}

async fn waiting_for_me_lists_a_users_turns_and_opens_them(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let draft = contracts::create_draft(&t.db, NOW, &p.manager, "順番の契約")
        .await
        .expect("draft");
    let mut party_ids = Vec::new();
    for (step, email) in [(1, "signer@list.example"), (2, "signer@other.example")] {
        let added = contracts::add_party(
            &t.db,
            NOW,
            &p.manager,
            &draft.id,
            &party("signer", step, Some("simple"), email, ""),
        )
        .await
        .expect("party");
        party_ids.push(added.id);
    }
    let waiting = query(|q| q.waiting = true);
    // A draft waits for nobody.
    assert!(titles(&t, &p.signer, &waiting).await.is_empty());
    sql(
        &t,
        "UPDATE contracts SET status = 'sent' WHERE id = $1",
        &draft.id,
    )
    .await;
    sql(
        &t,
        "UPDATE contract_parties SET status = 'notified' WHERE id = $1",
        &party_ids[0],
    )
    .await;
    assert_eq!(titles(&t, &p.signer, &waiting).await, ["順番の契約"]);
    assert!(
        titles(&t, &p.stranger_signer, &waiting).await.is_empty(),
        "not yet their step"
    );
    let counts = contracts::counts(&t.db, &p.signer, "")
        .await
        .expect("counts");
    assert_eq!((counts.waiting, counts.all), (1, None));
    // 「開く」: a new link for them, and for nobody else.
    let token = contracts::my_turn(&t.db, NOW, &p.signer, &draft.id)
        .await
        .expect("a link");
    assert_eq!(token.len(), 64);
    assert_eq!(t.count("SELECT COUNT(*) FROM contract_links").await, 1);
    assert!(matches!(
        contracts::my_turn(&t.db, NOW, &p.stranger_signer, &draft.id).await,
        Err(Failure::NotFound)
    ));
    assert!(matches!(
        contracts::my_turn(&t.db, NOW, &p.manager, &draft.id).await,
        Err(Failure::NotFound)
    ));
    // The next step: another organisation's signer, whose turn it is now.
    sql(
        &t,
        "UPDATE contract_parties SET status = 'signed' WHERE id = $1",
        &party_ids[0],
    )
    .await;
    sql(
        &t,
        "UPDATE contract_parties SET status = 'opened' WHERE id = $1",
        &party_ids[1],
    )
    .await;
    assert!(titles(&t, &p.signer, &waiting).await.is_empty());
    assert!(matches!(
        contracts::my_turn(&t.db, NOW, &p.signer, &draft.id).await,
        Err(Failure::NotFound)
    ));
    assert_eq!(
        titles(&t, &p.stranger_signer, &waiting).await,
        ["順番の契約"]
    );
    contracts::my_turn(&t.db, NOW, &p.stranger_signer, &draft.id)
        .await
        .expect("a link");
    // A contract no longer in progress waits for nobody.
    sql(
        &t,
        "UPDATE contracts SET status = 'cancelled' WHERE id = $1",
        &draft.id,
    )
    .await;
    assert!(titles(&t, &p.stranger_signer, &waiting).await.is_empty());
}

async fn the_people_to_name_say_why_a_certificate_signature_is_not_available(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let found = contracts::candidates(&t.db, NOW, &p.manager, "", 20)
        .await
        .expect("people");
    let emails: Vec<&str> = found.iter().map(|c| c.email.as_str()).collect();
    assert!(emails.contains(&"signer@list.example"), "{emails:?}");
    assert!(
        !emails.contains(&"signer@other.example"),
        "the organisation's only"
    );
    assert!(
        !emails.iter().any(|e| e.starts_with("op@")),
        "never the operator"
    );
    let refusal = |email: &str| {
        found
            .iter()
            .find(|c| c.email == email)
            .map(|c| c.certificate_refusal)
            .expect("found")
    };
    assert_eq!(refusal("signer@list.example"), Some("error.no_certificate"));
    assert_eq!(
        refusal("agent@list.example"),
        Some("error.agent_simple_only")
    );
    assert_eq!(refusal("dm@list.example"), Some("error.not_a_signer"));
    let some = contracts::candidates(&t.db, NOW, &p.manager, "AGENT", 20)
        .await
        .expect("people");
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].id, p.agent.id);
    assert_eq!(
        contracts::candidates(&t.db, NOW, &p.manager, "", 1)
            .await
            .expect("people")
            .len(),
        1
    );
    assert!(matches!(
        contracts::candidates(&t.db, NOW, &p.signer, "", 5).await,
        Err(Failure::Forbidden)
    ));
    assert_eq!(
        contracts::certificate_refusal(&t.db, NOW, None)
            .await
            .expect("why"),
        Some("error.outside_party_simple_only")
    );
}

async fn a_drafts_parties_and_fields_change_by_the_rules_of_placing_them(backend: Backend) {
    let Some(t) = TestDb::new(backend).await else {
        return;
    };
    let p = people(&t).await;
    let store = DocumentStore::memory();
    let draft = contracts::create_draft(&t.db, NOW, &p.manager, "変更の契約")
        .await
        .expect("draft");
    let document = contracts::add_document(
        &t.db,
        &store,
        NOW,
        &p.manager,
        &draft.id,
        "a.pdf",
        std::io::Cursor::new(pdf()),
    )
    .await
    .expect("document");
    let agent = contracts::add_party(
        &t.db,
        NOW,
        &p.manager,
        &draft.id,
        &party("signer", 1, Some("simple"), "agent@list.example", ""),
    )
    .await
    .expect("party");
    let change = |c: PartyChange| {
        let (db, manager, id, party) = (
            t.db.clone(),
            p.manager.clone(),
            draft.id.clone(),
            agent.id.clone(),
        );
        async move { contracts::change_party(&db, NOW + 10, &manager, &id, &party, &c).await }
    };
    let refused = change(PartyChange {
        signature_kind: Some("certificate".into()),
        ..PartyChange::default()
    })
    .await
    .expect_err("an agent signs simply");
    assert_eq!(
        keys(&refused),
        [("signature_kind", "error.agent_simple_only")]
    );
    let refused = change(PartyChange {
        step: Some(99),
        name: Some("\u{7}".into()),
        ..PartyChange::default()
    })
    .await
    .expect_err("bad step and name");
    assert_eq!(
        keys(&refused),
        [("step", "error.party_step"), ("name", "error.too_long")]
    );
    let changed = change(PartyChange {
        step: Some(2),
        name: Some("取引 次郎".into()),
        ..PartyChange::default()
    })
    .await
    .expect("changed");
    assert_eq!((changed.step, changed.name.as_str()), (2, "取引 次郎"));

    // A field moved, resized, relabelled; off the page and too small refused.
    let field = contracts::add_field(
        &t.db,
        &store,
        NOW,
        &p.manager,
        &draft.id,
        &NewField {
            document: document.id.clone(),
            party: agent.id.clone(),
            kind: "signature".into(),
            page: 1,
            x: 50.0,
            y: 50.0,
            width: 120.0,
            height: 60.0,
            label: String::new(),
        },
    )
    .await
    .expect("field");
    let move_to = |c: FieldChange| {
        let (db, store, manager, id, f) = (
            t.db.clone(),
            store.clone(),
            p.manager.clone(),
            draft.id.clone(),
            field.id.clone(),
        );
        async move { contracts::change_field(&db, &store, NOW + 20, &manager, &id, &f, &c).await }
    };
    let moved = move_to(FieldChange {
        x: Some(400.25),
        y: Some(700.0),
        width: Some(150.0),
        label: Some(" 署名欄 ".into()),
        ..FieldChange::default()
    })
    .await
    .expect("moved");
    assert_eq!(
        (
            moved.x,
            moved.y,
            moved.width,
            moved.height,
            moved.label.as_str()
        ),
        (400.25, 700.0, 150.0, 60.0, "署名欄")
    );
    let refused = move_to(FieldChange {
        x: Some(500.0),
        ..FieldChange::default()
    })
    .await
    .expect_err("off the page");
    assert_eq!(keys(&refused), [("x", "error.field_outside_page")]);
    let refused = move_to(FieldChange {
        height: Some(10.0),
        ..FieldChange::default()
    })
    .await
    .expect_err("too small for a seal");
    assert_eq!(keys(&refused), [("width", "error.field_too_small")]);
    let kept = contracts::fields(&t.db, &p.manager, &draft.id)
        .await
        .expect("fields");
    assert_eq!(
        (kept[0].x, kept[0].y),
        (400.25, 700.0),
        "refusals change nothing"
    );
    assert!(matches!(
        contracts::change_field(
            &t.db,
            &store,
            NOW,
            &p.admin,
            &draft.id,
            &field.id,
            &FieldChange::default()
        )
        .await,
        Err(Failure::Forbidden)
    ));

    // No longer a signer: their fields go; a signer again needs a kind.
    let approver = change(PartyChange {
        role: Some("approver".into()),
        ..PartyChange::default()
    })
    .await
    .expect("an approver");
    assert_eq!(approver.signature_kind, None);
    assert!(contracts::fields(&t.db, &p.manager, &draft.id)
        .await
        .expect("fields")
        .is_empty());
    let refused = change(PartyChange {
        role: Some("signer".into()),
        ..PartyChange::default()
    })
    .await
    .expect_err("which kind?");
    assert_eq!(keys(&refused), [("signature_kind", "error.required")]);
    let events: Vec<String> = contracts::events(&t.db, &p.manager, &draft.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == "contract.party_changed")
            .count(),
        2
    );
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == "contract.field_changed")
            .count(),
        1
    );
    // The last change dates the contract.
    let contract = contracts::get(&t.db, &p.manager, &draft.id)
        .await
        .expect("contract");
    assert_eq!(contract.updated_at, NOW + 20);
    assert_eq!(contract.sender_name, "Someone");
}
