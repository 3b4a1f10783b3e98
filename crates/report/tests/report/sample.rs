//! Certificates to render: a small Japanese one, a large English one, and the building blocks.
//! Shared by the tests and the bench.

#![allow(dead_code)]

use chrono::{DateTime, FixedOffset};
use report::{Completion, DocumentEntry, EventEntry, Language, PartyEntry};

pub fn issued_at() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-30T14:10:00+09:00").expect("a valid time")
}

/// 64 hexadecimal digits that differ with `seed`.
pub fn digest(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

pub fn small_japanese() -> Completion {
    Completion {
        language: Language::Ja,
        contract_id: "0193a5c2-7d4e-7b8a-9f10-2b3c4d5e6f70".into(),
        contract_number: "C-2026-000123".into(),
        title: "業務委託契約書（2026年度・システム保守）".into(),
        organisation: "株式会社サンプル商事".into(),
        sender: "山田 太郎 <taro.yamada@sample-shoji.co.jp>".into(),
        created_at: "2026-11-28 09:12:45 JST".into(),
        sent_at: "2026-11-28 09:30:02 JST".into(),
        completed_at: "2026-11-30 14:05:09 JST".into(),
        documents: vec![
            DocumentEntry {
                name: "業務委託契約書.pdf".into(),
                pages: 12,
                size_before: 1_482_113,
                sha256_before: digest(1),
                sha256_after: digest(2),
            },
            DocumentEntry {
                name: "別紙1_業務仕様書.pdf".into(),
                pages: 3,
                size_before: 204_800,
                sha256_before: digest(3),
                sha256_after: digest(4),
            },
        ],
        parties: vec![
            PartyEntry {
                step: 1,
                role: "承認者".into(),
                signature_kind: None,
                name: "佐藤 花子".into(),
                email: "hanako.sato@sample-shoji.co.jp".into(),
                organisation: Some("株式会社サンプル商事 法務部".into()),
                authentication: "ログイン".into(),
                outcome: "承認済み".into(),
                at: Some("2026-11-28 10:01:13 JST".into()),
            },
            PartyEntry {
                step: 2,
                role: "署名者".into(),
                signature_kind: Some("当事者型（証明書）".into()),
                name: "山田 太郎".into(),
                email: "taro.yamada@sample-shoji.co.jp".into(),
                organisation: Some("株式会社サンプル商事".into()),
                authentication: "ログイン + PIN".into(),
                outcome: "署名済み".into(),
                at: Some("2026-11-29 16:40:55 JST".into()),
            },
            PartyEntry {
                step: 3,
                role: "署名者".into(),
                signature_kind: Some("立会人型".into()),
                name: "鈴木 一郎".into(),
                email: "ichiro.suzuki@example-partner.jp".into(),
                organisation: None,
                authentication: "メール認証コード".into(),
                outcome: "署名済み".into(),
                at: Some("2026-11-30 14:05:09 JST".into()),
            },
        ],
        events: vec![
            EventEntry {
                at: "2026-11-28 09:12:45 JST".into(),
                kind: "契約を作成".into(),
                actor: "山田 太郎 <taro.yamada@sample-shoji.co.jp>".into(),
                address: Some("203.0.113.10".into()),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
                        .into(),
                ),
                detail: None,
            },
            EventEntry {
                at: "2026-11-28 09:30:02 JST".into(),
                kind: "送信".into(),
                actor: "山田 太郎 <taro.yamada@sample-shoji.co.jp>".into(),
                address: Some("2001:db8:85a3::8a2e:370:7334".into()),
                user_agent: None,
                detail: Some("宛先 3 名に通知メールを送信".into()),
            },
            EventEntry {
                at: "2026-11-30 14:05:09 JST".into(),
                kind: "署名".into(),
                actor: "鈴木 一郎 <ichiro.suzuki@example-partner.jp>".into(),
                address: Some("198.51.100.7".into()),
                user_agent: Some(
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                     (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
                        .into(),
                ),
                detail: Some("締結".into()),
            },
        ],
        issued_by: "Inkan (https://inkan.example.com)".into(),
        issued_at: issued_at(),
    }
}

/// A user agent of exactly 250 characters, different for each `i`.
pub fn long_user_agent(i: usize) -> String {
    let mut agent = format!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/131.0.{i}.0 Safari/537.36 Edg/131.0.{i}.0 CorporateProxy/7.2 (build-{i:04}; \
         policy=strict; tenant=example-holdings-international) Extension/"
    );
    while agent.len() < 250 {
        agent.push(char::from(b'a' + (agent.len() % 26) as u8));
    }
    agent.truncate(250);
    agent
}

pub fn event_time(i: usize) -> String {
    format!(
        "2026-11-{:02} {:02}:{:02}:{:02} JST",
        1 + i / 24 % 28,
        i % 24,
        (i * 7) % 60,
        (i * 13) % 60
    )
}

pub fn large_english() -> Completion {
    let mut title = "Master services agreement between Example Holdings International \
                     and Sample Trading Company covering maintenance, hosting, support and \
                     professional services for the fiscal years 2026 to 2029, including all \
                     schedules, annexes, statements of work, data processing terms and the \
                     service level agreement with its credits table"
        .to_owned();
    while title.len() < 300 {
        title.push_str(" and more");
    }
    title.truncate(299);
    title.push('.');
    let documents = (0..3u64)
        .map(|i| DocumentEntry {
            name: format!(
                "Schedule {} - master services agreement part {} (final, countersigned version).pdf",
                i + 1,
                i + 1
            ),
            pages: 10 + i as u32 * 7,
            size_before: 2_000_000 + i * 123_457,
            sha256_before: digest(100 + i),
            sha256_after: digest(200 + i),
        })
        .collect();
    let parties = (0..25usize)
        .map(|i| {
            let signer = i % 3 != 0;
            PartyEntry {
                step: (i / 2 + 1) as u32,
                role: if signer { "Signer" } else { "Approver" }.into(),
                signature_kind: signer.then(|| {
                    if i % 2 == 0 {
                        "Certificate signature (party)".to_owned()
                    } else {
                        "Simple signature (witness)".to_owned()
                    }
                }),
                name: format!("Party {i:02} Alexandria Konstantinopoulou-Smithfield"),
                email: format!("party{i:02}.alexandria.konstantinopoulou@example-{i}.co.jp"),
                organisation: (i % 4 != 0).then(|| format!("Example Subsidiary Number {i} Ltd.")),
                authentication: if signer {
                    "Login + PIN".into()
                } else {
                    "Email code".into()
                },
                outcome: "Signed".into(),
                at: Some(event_time(i * 10)),
            }
        })
        .collect();
    let events = (0..300usize)
        .map(|i| EventEntry {
            at: event_time(i),
            kind: match i % 4 {
                0 => "Viewed",
                1 => "Signed",
                2 => "Reminder sent",
                _ => "Downloaded",
            }
            .into(),
            actor: format!(
                "Party {:02} Alexandria <party{:02}@example-{}.co.jp>",
                i % 25,
                i % 25,
                i % 25
            ),
            address: Some(if i % 2 == 0 {
                format!("203.0.113.{}", i % 250)
            } else {
                format!("2001:db8:85a3:1234:5678:8a2e:370:{i:04x}")
            }),
            user_agent: Some(long_user_agent(i)),
            detail: Some(format!("event-{:04}", i + 1)),
        })
        .collect();
    Completion {
        language: Language::En,
        contract_id: "0193a5c2-7d4e-7b8a-9f10-000000000300".into(),
        contract_number: "C-2026-000300".into(),
        title,
        organisation: "Example Holdings International K.K.".into(),
        sender: "Jordan Example <jordan@example-holdings.com>".into(),
        created_at: "2026-10-01 09:00:00 JST".into(),
        sent_at: "2026-10-01 09:30:00 JST".into(),
        completed_at: "2026-11-30 23:59:59 JST".into(),
        documents,
        parties,
        events,
        issued_by: "Inkan (https://inkan.example.com)".into(),
        issued_at: issued_at(),
    }
}

/// A certificate with nothing but ASCII in it.
pub fn ascii_only() -> Completion {
    let mut c = large_english();
    c.title = "Short NDA".into();
    c.documents.truncate(1);
    c.parties.truncate(2);
    c.events.truncate(4);
    c
}

/// No documents, parties or events; a title with an emoji (which IPAGothic lacks), a kanji
/// with a variation selector, a tab and a line break.
pub fn unusual() -> Completion {
    let mut c = small_japanese();
    c.documents.clear();
    c.parties.clear();
    c.events.clear();
    c.title = "絵文字 😀 と異体字 葛\u{E0100}、タブ\tと改行\nを含む件名".into();
    c
}
