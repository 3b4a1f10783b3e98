//! The mails the service sends: one [`Mail`] variant per kind, each rendered from a template per
//! language in `crates/domain/mail/<kind>/<lang>.txt` (compiled in), in the recipient's language,
//! and queued with [`send`] in the caller's transaction through the outbox ([`email`]).
//!
//! A template file reads like the mail: `Subject: …`, an empty line, then the plain-text body.
//! Both parts are minijinja templates with strict undefined values (a variable the template uses
//! but the mail does not supply is an error, never an empty string); `{{ t|datetime }}` shows a
//! Unix time in Japan time, as the pages do.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Serialize, Serializer};
use sqlx::{Any, Row, Transaction};

use crate::accounts::User;
use crate::certificates::OrderKind;
use crate::config::Secret;
use crate::email;
use crate::i18n::Lang;

/// The languages every kind has a template in.
pub const LANGS: [Lang; 2] = [Lang::Ja, Lang::En];

/// Declares [`Kind`] from one list: each kind's folder under `mail/`, its templates compiled in.
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident => $dir:literal,)*) => {
        /// The kinds of mail: one folder of templates each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            /// The template folder's name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => $dir,)*
                }
            }

            /// The template file of this kind in `lang`.
            fn source(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Kind::$kind, Lang::Ja) => include_str!(concat!("../mail/", $dir, "/ja.txt")),
                        (Kind::$kind, Lang::En) => include_str!(concat!("../mail/", $dir, "/en.txt")),
                    )*
                }
            }
        }
    };
}

kinds! {
    /// 「アカウント発行のお知らせ」
    AccountIssued => "account_issued",
    /// 「パスワード再設定のご案内」
    PasswordReset => "password_reset",
    /// 「電子証明書申込受付のお知らせ」
    CertificateOrdered => "certificate_ordered",
    /// 「電子証明書発行のお知らせ」
    CertificateIssued => "certificate_issued",
    /// 「電子証明書お申込みについてのお知らせ」
    CertificateRejected => "certificate_rejected",
    /// 「電子証明書更新のお知らせ」
    CertificateRenewal => "certificate_renewal",
    /// 「署名PIN設定のお知らせ」
    PinSet => "pin_set",
    /// 「署名PIN変更のお知らせ」
    PinChanged => "pin_changed",
    /// 「署名PINロックのお知らせ」
    PinLocked => "pin_locked",
    /// 「署名PINリセットのお知らせ」
    PinReset => "pin_reset",
    /// 「署名依頼」: a party's turn, with their personal link.
    ContractRequest => "contract_request",
    /// 「署名依頼（再送）」: a reminder, with a new link.
    ContractReminder => "contract_reminder",
    /// 「確認コード」: an outside party's one-time code.
    ContractCode => "contract_code",
    /// 「契約が却下されました」: to the sender, with the reason.
    ContractDeclined => "contract_declined",
    /// 「契約が取り消されました」: to the parties already asked.
    ContractCancelled => "contract_cancelled",
    /// 「契約の有効期限が切れました」: to the sender.
    ContractExpired => "contract_expired",
    /// 「契約締結のお知らせ」: to every party and the sender, with the signed PDFs.
    ContractCompleted => "contract_completed",
}

/// A mail and the values its template shows. Times are Unix seconds (shown in Japan time).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Mail<'a> {
    /// 「アカウント発行のお知らせ」: the login URL and the temporary password.
    AccountIssued {
        name: &'a str,
        organisation: &'a str,
        login_url: &'a str,
        email: &'a str,
        #[serde(serialize_with = "expose")]
        temporary_password: &'a Secret<String>,
    },
    /// 「パスワード再設定のご案内」: the one-time reset link.
    PasswordReset {
        name: &'a str,
        organisation: &'a str,
        reset_link: &'a str,
    },
    /// 「電子証明書申込受付のお知らせ」: the order of a new, renewed or changed certificate.
    CertificateOrdered {
        family_name: &'a str,
        given_name: &'a str,
        #[serde(serialize_with = "order_kind_name")]
        order_kind: &'a OrderKind,
        order_id: &'a str,
        common_name: &'a str,
        price_jpy: i64,
        tax_jpy: i64,
        phone: &'a str,
    },
    /// 「電子証明書発行のお知らせ」: the certificate's subject, expiry and serial.
    CertificateIssued {
        family_name: &'a str,
        given_name: &'a str,
        order_id: &'a str,
        common_name: &'a str,
        country: &'a str,
        prefecture: &'a str,
        city: &'a str,
        /// The street with the building, if any.
        street: &'a str,
        postal_code: &'a str,
        organisation: &'a str,
        department: &'a str,
        expires_at: i64,
        serial: &'a str,
    },
    /// 「電子証明書お申込みについてのお知らせ」: the identity check failed, and why.
    CertificateRejected {
        family_name: &'a str,
        given_name: &'a str,
        order_id: &'a str,
        reason: &'a str,
    },
    /// 「電子証明書更新のお知らせ」: the expiry and the day renewal opens.
    CertificateRenewal {
        organisation: &'a str,
        family_name: &'a str,
        given_name: &'a str,
        common_name: &'a str,
        expires_at: i64,
        renewal_opens_at: i64,
    },
    /// 「署名PIN設定のお知らせ」, naming the administrator who set it, if one did.
    PinSet {
        name: &'a str,
        administrator: Option<&'a str>,
    },
    /// 「署名PIN変更のお知らせ」, naming the administrator who changed it, if one did.
    PinChanged {
        name: &'a str,
        administrator: Option<&'a str>,
    },
    /// 「署名PINロックのお知らせ」: after how many wrong PINs, and until when.
    PinLocked {
        name: &'a str,
        max_failures: i64,
        locked_until: i64,
    },
    /// 「署名PINリセットのお知らせ」, with the free re-issue's order when there is one.
    PinReset {
        name: &'a str,
        reissue_order: Option<&'a str>,
    },
    /// 「署名依頼」: what to sign or approve, from whom, until when, and the personal link.
    ContractRequest {
        name: &'a str,
        sender: &'a str,
        organisation: &'a str,
        title: &'a str,
        /// `signer` or `approver`.
        role: &'a str,
        link: &'a str,
        expires_at: i64,
        /// Whether the link asks for a one-time code sent to this address first.
        code: bool,
        /// The sender's message to the parties (empty: none).
        message: &'a str,
    },
    /// 「署名依頼（再送）」: the same, again, with a new link (the earlier ones still work).
    ContractReminder {
        name: &'a str,
        sender: &'a str,
        organisation: &'a str,
        title: &'a str,
        role: &'a str,
        link: &'a str,
        expires_at: i64,
        code: bool,
        message: &'a str,
    },
    /// 「確認コード」: the one-time code and how long it is valid.
    ContractCode {
        name: &'a str,
        title: &'a str,
        code: &'a str,
        minutes: i64,
    },
    /// 「契約が却下されました」: who declined and why.
    ContractDeclined {
        name: &'a str,
        title: &'a str,
        party: &'a str,
        reason: &'a str,
    },
    /// 「契約が取り消されました」: by whom and why.
    ContractCancelled {
        name: &'a str,
        title: &'a str,
        sender: &'a str,
        reason: &'a str,
    },
    /// 「契約の有効期限が切れました」: which parties had not acted.
    ContractExpired {
        name: &'a str,
        title: &'a str,
        expired_at: i64,
        pending: &'a str,
    },
    /// 「契約締結のお知らせ」: the signed documents are attached, or downloadable until a date.
    ContractCompleted {
        name: &'a str,
        title: &'a str,
        organisation: &'a str,
        attached: bool,
        link: &'a str,
        link_expires_at: i64,
    },
}

fn expose<S: Serializer>(secret: &&Secret<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

fn order_kind_name<S: Serializer>(kind: &&OrderKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

impl Mail<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Mail::AccountIssued { .. } => Kind::AccountIssued,
            Mail::PasswordReset { .. } => Kind::PasswordReset,
            Mail::CertificateOrdered { .. } => Kind::CertificateOrdered,
            Mail::CertificateIssued { .. } => Kind::CertificateIssued,
            Mail::CertificateRejected { .. } => Kind::CertificateRejected,
            Mail::CertificateRenewal { .. } => Kind::CertificateRenewal,
            Mail::PinSet { .. } => Kind::PinSet,
            Mail::PinChanged { .. } => Kind::PinChanged,
            Mail::PinLocked { .. } => Kind::PinLocked,
            Mail::PinReset { .. } => Kind::PinReset,
            Mail::ContractRequest { .. } => Kind::ContractRequest,
            Mail::ContractReminder { .. } => Kind::ContractReminder,
            Mail::ContractCode { .. } => Kind::ContractCode,
            Mail::ContractDeclined { .. } => Kind::ContractDeclined,
            Mail::ContractCancelled { .. } => Kind::ContractCancelled,
            Mail::ContractExpired { .. } => Kind::ContractExpired,
            Mail::ContractCompleted { .. } => Kind::ContractCompleted,
        }
    }

    /// The subject and body in `lang`.
    pub fn render(&self, lang: Lang) -> anyhow::Result<Rendered> {
        let kind = self.kind().name();
        let env = TEMPLATES.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let render = |part: &str| {
            env.get_template(&template_name(kind, lang, part))
                .and_then(|t| t.render(self))
                .map_err(|e| {
                    anyhow::anyhow!("rendering the {part} of the mail {kind}/{lang}: {e:#}")
                })
        };
        // A subject is one line, whatever the values in it hold.
        let subject = render("subject")?.replace(['\r', '\n'], " ");
        Ok(Rendered {
            subject,
            body: render("body")?,
        })
    }
}

fn template_name(kind: &str, lang: Lang, part: &str) -> String {
    format!("{kind}/{lang}/{part}")
}

/// Every template, parsed once: `<kind>/<lang>/subject` and `<kind>/<lang>/body`.
static TEMPLATES: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(environment);

fn environment() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    // A line holding only `{% if %}` or `{% endif %}` leaves nothing in the text.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("datetime", crate::clock::jst);
    for &kind in Kind::ALL {
        for lang in LANGS {
            let file = format!("mail/{}/{lang}.txt", kind.name());
            let (subject, body) = split(kind.source(lang)).ok_or_else(|| {
                format!("{file} does not start with 'Subject: …' and an empty line")
            })?;
            for (part, source) in [("subject", subject), ("body", body)] {
                env.add_template_owned(template_name(kind.name(), lang, part), source)
                    .map_err(|e| format!("{file}: {e:#}"))?;
            }
        }
    }
    Ok(env)
}

/// A template file's subject line and body.
fn split(source: &str) -> Option<(&str, &str)> {
    let (subject, body) = source.strip_prefix("Subject: ")?.split_once('\n')?;
    Some((subject, body.strip_prefix('\n')?))
}

/// Who receives a mail: the address, the organisation it is sent for, and the language.
#[derive(Debug, Clone, Copy)]
pub struct Addressee<'a> {
    pub org_id: &'a str,
    pub address: &'a str,
    pub lang: Lang,
}

impl<'a> Addressee<'a> {
    /// A user, at their address, in their language.
    pub fn user(user: &'a User) -> Self {
        Self {
            org_id: &user.org_id,
            address: &user.email,
            lang: user.language,
        }
    }
}

/// Renders `mail` in the recipient's language and queues it in `tx` (sent only if the
/// transaction commits). Returns the outbox id.
pub async fn send(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    to: &Addressee<'_>,
    mail: &Mail<'_>,
) -> anyhow::Result<String> {
    send_with(tx, now, to, mail, &[]).await
}

/// [`send`], carrying `attachments` from the document store.
pub async fn send_with(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    to: &Addressee<'_>,
    mail: &Mail<'_>,
    attachments: &[email::Attachment],
) -> anyhow::Result<String> {
    let Rendered { subject, body } = mail.render(to.lang)?;
    email::enqueue_text(tx, now, to.org_id, to.address, &subject, &body, attachments).await
}

/// The language of the user `user_id`, for mail about them sent to another address (an
/// application's email): Japanese if the user is not found.
pub async fn language_of(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
) -> anyhow::Result<Lang> {
    let row = sqlx::query("SELECT language FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => Lang::parse(&r.try_get::<String, _>("language")?).unwrap_or_default(),
        None => Lang::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    /// 2026-04-01 10:00 JST.
    const T: i64 = 1_775_005_200;

    fn password() -> &'static Secret<String> {
        static P: LazyLock<Secret<String>> = LazyLock::new(|| Secret::new("Xy3kP9mQ".into()));
        &P
    }

    /// One mail of each kind, with fixed values (the snapshots show these).
    fn samples() -> Vec<Mail<'static>> {
        vec![
            Mail::AccountIssued {
                name: "署名 花子",
                organisation: "株式会社印鑑テスト",
                login_url: "https://sign.example.jp/login",
                email: "hanako@example.jp",
                temporary_password: password(),
            },
            Mail::PasswordReset {
                name: "署名 花子",
                organisation: "株式会社印鑑テスト",
                reset_link: "https://sign.example.jp/password/reset/0123456789abcdef",
            },
            Mail::CertificateOrdered {
                family_name: "山田",
                given_name: "太郎",
                order_kind: &OrderKind::New,
                order_id: "INK20260401-0001",
                common_name: "Yamada Taro",
                price_jpy: 8000,
                tax_jpy: 800,
                phone: "03-1234-5678",
            },
            Mail::CertificateIssued {
                family_name: "山田",
                given_name: "太郎",
                order_id: "INK20260401-0001",
                common_name: "Yamada Taro",
                country: "JP",
                prefecture: "東京都",
                city: "千代田区",
                street: "千代田1-1 印鑑ビル 5F",
                postal_code: "100-0001",
                organisation: "株式会社印鑑テスト",
                department: "営業部",
                expires_at: T + 365 * 86400,
                serial: "5A1F00C3",
            },
            Mail::CertificateRejected {
                family_name: "山田",
                given_name: "太郎",
                order_id: "INK20260401-0002",
                reason: "登録の電話番号に本人が不在",
            },
            Mail::CertificateRenewal {
                organisation: "株式会社印鑑テスト",
                family_name: "山田",
                given_name: "太郎",
                common_name: "Yamada Taro",
                expires_at: T + 90 * 86400,
                renewal_opens_at: T,
            },
            Mail::PinSet {
                name: "佐藤 一郎",
                administrator: Some("管理 太郎"),
            },
            Mail::PinChanged {
                name: "佐藤 一郎",
                administrator: None,
            },
            Mail::PinLocked {
                name: "佐藤 一郎",
                max_failures: 5,
                locked_until: T + 1800,
            },
            Mail::PinReset {
                name: "山田 太郎",
                reissue_order: Some("INK20260401-0003"),
            },
            Mail::ContractRequest {
                name: "取引 次郎",
                sender: "文書 管理子",
                organisation: "株式会社印鑑テスト",
                title: "業務委託契約書",
                role: "signer",
                link: "https://sign.example.jp/sign/0123456789abcdef",
                expires_at: T + 30 * 86400,
                code: true,
                message: "ご確認のうえ、ご署名をお願いいたします。\n期日: 今月末",
            },
            Mail::ContractReminder {
                name: "承認 三郎",
                sender: "文書 管理子",
                organisation: "株式会社印鑑テスト",
                title: "業務委託契約書",
                role: "approver",
                link: "https://sign.example.jp/sign/fedcba9876543210",
                expires_at: T + 30 * 86400,
                code: false,
                message: "",
            },
            Mail::ContractCode {
                name: "取引 次郎",
                title: "業務委託契約書",
                code: "042917",
                minutes: 10,
            },
            Mail::ContractDeclined {
                name: "文書 管理子",
                title: "業務委託契約書",
                party: "取引 次郎 <jiro@example.com>",
                reason: "報酬額が合意内容と異なります",
            },
            Mail::ContractCancelled {
                name: "取引 次郎",
                title: "業務委託契約書",
                sender: "文書 管理子",
                reason: "条件を見直して再送します",
            },
            Mail::ContractExpired {
                name: "文書 管理子",
                title: "業務委託契約書",
                expired_at: T + 30 * 86400,
                pending: "取引 次郎 <jiro@example.com>",
            },
            Mail::ContractCompleted {
                name: "取引 次郎",
                title: "業務委託契約書",
                organisation: "株式会社印鑑テスト",
                attached: true,
                link: "https://sign.example.jp/sign/0123456789abcdef",
                link_expires_at: T + 60 * 86400,
            },
        ]
    }

    /// The mails whose templates branch, the other way than in [`samples`].
    fn other_branches() -> Vec<Mail<'static>> {
        let ordered = |kind: &'static OrderKind| Mail::CertificateOrdered {
            family_name: "山田",
            given_name: "太郎",
            order_kind: kind,
            order_id: "INK20260401-0001",
            common_name: "Yamada Taro",
            price_jpy: 8000,
            tax_jpy: 800,
            phone: "03-1234-5678",
        };
        static RENEWAL: LazyLock<OrderKind> = LazyLock::new(|| OrderKind::Renewal("01".into()));
        static CHANGE: LazyLock<OrderKind> = LazyLock::new(|| OrderKind::Change("01".into()));
        vec![
            ordered(&RENEWAL),
            ordered(&CHANGE),
            Mail::PinSet {
                name: "佐藤 一郎",
                administrator: None,
            },
            Mail::PinChanged {
                name: "佐藤 一郎",
                administrator: Some("管理 太郎"),
            },
            Mail::PinReset {
                name: "佐藤 一郎",
                reissue_order: None,
            },
            Mail::ContractRequest {
                name: "署名 花子",
                sender: "文書 管理子",
                organisation: "株式会社印鑑テスト",
                title: "業務委託契約書",
                role: "approver",
                link: "https://sign.example.jp/sign/0123456789abcdef",
                expires_at: T + 30 * 86400,
                code: false,
                message: "Please review by Friday.",
            },
            Mail::ContractCompleted {
                name: "取引 次郎",
                title: "業務委託契約書",
                organisation: "株式会社印鑑テスト",
                attached: false,
                link: "https://sign.example.jp/sign/0123456789abcdef",
                link_expires_at: T + 60 * 86400,
            },
        ]
    }

    fn render(mail: &Mail<'_>, lang: Lang) -> Rendered {
        mail.render(lang)
            .unwrap_or_else(|e| panic!("{:?}/{lang}: {e:#}", mail.kind()))
    }

    fn mail_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("mail")
    }

    /// Each kind's sample in each language matches `mail/<kind>/<lang>.snap`;
    /// `INKAN_UPDATE_SNAPSHOTS=1` rewrites the snapshots instead.
    #[test]
    fn every_mail_matches_its_snapshot() {
        let update = std::env::var_os("INKAN_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
        let mut differing = Vec::new();
        for mail in samples() {
            for lang in LANGS {
                let r = render(&mail, lang);
                let got = format!("Subject: {}\n\n{}", r.subject, r.body);
                let path = mail_dir()
                    .join(mail.kind().name())
                    .join(format!("{lang}.snap"));
                if update {
                    std::fs::write(&path, &got).expect("writing a snapshot");
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(want) if want == got => {}
                    Ok(_) => differing.push(format!("--- {}\n{got}", path.display())),
                    Err(e) => differing.push(format!("--- {} ({e})\n{got}", path.display())),
                }
            }
        }
        assert!(
            differing.is_empty(),
            "rendered mails differ from their snapshots (INKAN_UPDATE_SNAPSHOTS=1 \
             cargo test -p inkan-domain mail rewrites them):\n{}",
            differing.join("\n")
        );
    }

    #[test]
    fn every_kind_has_both_languages_and_renders_without_undefined_values() {
        let samples = samples();
        let sampled: HashSet<Kind> = samples.iter().map(Mail::kind).collect();
        assert_eq!(
            sampled,
            Kind::ALL.iter().copied().collect(),
            "one sample per kind"
        );
        for mail in samples.iter().chain(&other_branches()) {
            for lang in LANGS {
                let r = render(mail, lang);
                assert!(!r.subject.trim().is_empty(), "{:?}/{lang}", mail.kind());
                assert!(r.body.ends_with('\n'), "{:?}/{lang}", mail.kind());
                assert!(!r.body.contains("{{") && !r.body.contains("{%"), "{r:?}");
            }
        }
        // Every folder on disk is a kind, with a template per language and nothing else
        // but their snapshots.
        let kinds: HashSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        let folders = std::fs::read_dir(mail_dir()).expect("mail/");
        let mut seen = HashSet::new();
        for folder in folders {
            let folder = folder.expect("entry");
            let name = folder.file_name().into_string().expect("UTF-8 name");
            assert!(kinds.contains(name.as_str()), "mail/{name} is no Kind");
            let files: Vec<String> = std::fs::read_dir(folder.path())
                .expect("mail/<kind>/")
                .map(|f| f.expect("entry").file_name().into_string().expect("UTF-8"))
                .collect();
            for lang in LANGS {
                assert!(
                    files.contains(&format!("{lang}.txt")),
                    "mail/{name}/{lang}.txt"
                );
            }
            let expected = |f: &String| {
                LANGS
                    .iter()
                    .any(|l| *f == format!("{l}.txt") || *f == format!("{l}.snap"))
            };
            assert!(files.iter().all(expected), "mail/{name}: {files:?}");
            seen.insert(name);
        }
        assert_eq!(seen.len(), Kind::ALL.len());
    }

    #[test]
    fn a_variable_the_mail_does_not_supply_is_an_error() {
        let env = TEMPLATES.as_ref().expect("templates");
        let missing = env
            .render_str(
                "{{ name }} 様 {{ no_such_value }}",
                minijinja::context! { name => "x" },
            )
            .expect_err("strict");
        assert_eq!(missing.kind(), minijinja::ErrorKind::UndefinedError);
        let in_a_condition = env
            .render_str("{% if no_such_value %}x{% endif %}", minijinja::context! {})
            .expect_err("strict in a condition too");
        assert_eq!(in_a_condition.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn japanese_subjects_are_the_manuals_wording() {
        let want = [
            (Kind::AccountIssued, "アカウント発行のお知らせ"),
            (Kind::PasswordReset, "パスワード再設定のご案内"),
            (Kind::CertificateOrdered, "電子証明書申込受付のお知らせ"),
            (Kind::CertificateIssued, "電子証明書発行のお知らせ"),
            (
                Kind::CertificateRejected,
                "電子証明書お申込みについてのお知らせ",
            ),
            (Kind::CertificateRenewal, "電子証明書更新のお知らせ"),
            (Kind::PinSet, "署名PIN設定のお知らせ"),
            (Kind::PinChanged, "署名PIN変更のお知らせ"),
            (Kind::PinLocked, "署名PINロックのお知らせ"),
            (Kind::PinReset, "署名PINリセットのお知らせ"),
        ];
        // The contract mails' subjects carry the contract's title (not in the manual).
        for mail in samples()
            .iter()
            .chain(&other_branches())
            .filter(|m| !m.kind().name().starts_with("contract_"))
        {
            let (_, subject) = want
                .iter()
                .find(|(k, _)| *k == mail.kind())
                .expect("every kind listed");
            assert_eq!(render(mail, Lang::Ja).subject, *subject);
            assert_ne!(render(mail, Lang::En).subject, *subject, "translated");
        }
    }

    /// The lines the black-box tests and the users read, in Japanese.
    #[test]
    fn japanese_bodies_keep_the_labelled_lines() {
        let bodies: Vec<String> = samples().iter().map(|m| render(m, Lang::Ja).body).collect();
        let account = &bodies[0];
        assert!(account.contains("署名 花子 様"), "{account}");
        assert!(account.contains("ログイン URL: https://sign.example.jp/login\n"));
        assert!(account.contains("\n仮パスワード: Xy3kP9mQ\n"), "{account}");
        assert!(bodies[2].contains("\n注文番号: INK20260401-0001\n"));
        assert!(bodies[2].contains("電子証明書の発行のお申込み"));
        assert!(bodies[3].contains("\n住所: 千代田区千代田1-1 印鑑ビル 5F\n"));
        assert!(
            bodies[3].contains("\n有効期限: 2027-04-01 10:00\n"),
            "{}",
            bodies[3]
        );
        assert!(bodies[5].contains("\n氏名: 山田 太郎(Yamada Taro)\n"));
        assert!(bodies[5].contains("\n更新手続き開始日: 2026-04-01 10:00\n"));
        assert!(bodies[6].contains("(操作者: 管理者 管理 太郎)"));
        assert!(bodies[8].contains("2026-04-01 10:30 以降"), "{}", bodies[8]);
        assert!(bodies[9].contains("INK20260401-0003"));
    }

    #[test]
    fn branches_show_only_what_applies() {
        let other: Vec<String> = other_branches()
            .iter()
            .map(|m| render(m, Lang::Ja).body)
            .collect();
        assert!(
            other[0].contains("電子証明書の更新のお申込み"),
            "{}",
            other[0]
        );
        assert!(other[1].contains("電子証明書の変更(再発行)のお申込み"));
        assert!(
            !other[2].contains("管理者 "),
            "set by the owner: {}",
            other[2]
        );
        assert!(other[3].contains("(操作者: 管理者 管理 太郎)"));
        assert_eq!(
            other[4],
            "佐藤 一郎 様\n\n管理者が署名PINをリセットしました。\n\
             Inkan にログインし、プロフィールの「署名PIN」から新しいPINを設定してください。\n"
        );
    }

    /// A user who chose English gets English mail; an address without a user (an
    /// application's) goes by the language of the user it is for.
    #[tokio::test]
    async fn mail_is_queued_in_the_recipients_language() {
        use crate::accounts::{self, Email, OrgName};
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let db = crate::db::Db::open(&config).await.expect("database");
        let org = OrgName::parse("株式会社印鑑テスト").expect("org");
        let address = Email::parse("kanri@example.jp").expect("email");
        let init = accounts::initialise(&db, 0, &org, &address, "https://sign.example.jp/login")
            .await
            .expect("initialise")
            .expect("first start");
        let admin = accounts::get_user(&db, &init.org_id, &init.admin_id)
            .await
            .expect("admin");
        let admin = accounts::update_profile(&db, &admin, None, Some("en"))
            .await
            .expect("English");
        let client = crate::auth::Client {
            address: "127.0.0.1".into(),
        };
        crate::auth::request_reset(
            &db,
            10,
            "kanri@example.jp",
            "https://sign.example.jp",
            &client,
        )
        .await
        .expect("reset");
        let subjects: Vec<String> = sqlx::query("SELECT subject FROM outbox ORDER BY created_at")
            .fetch_all(&db.pool)
            .await
            .expect("outbox")
            .iter()
            .map(|r| r.try_get("subject").expect("subject"))
            .collect();
        // A new account is Japanese until its user chooses otherwise.
        assert_eq!(
            subjects,
            ["アカウント発行のお知らせ", "Resetting your password"]
        );

        let mut tx = db.begin().await.expect("tx");
        assert_eq!(language_of(&mut tx, &admin.id).await.expect("en"), Lang::En);
        assert_eq!(
            language_of(&mut tx, "no-such-user").await.expect("ja"),
            Lang::Ja
        );
    }

    #[test]
    fn a_template_file_is_a_subject_line_an_empty_line_and_the_body() {
        assert_eq!(split("Subject: a\n\nb\n"), Some(("a", "b\n")));
        assert_eq!(split("Subject: a\nb\n"), None);
        assert_eq!(split("a\n\nb\n"), None);
    }
}
