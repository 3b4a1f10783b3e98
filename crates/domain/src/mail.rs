//! The mails the service sends: one [`Mail`] variant per kind, each rendered from a template per
//! language in `crates/domain/mail/<kind>/<lang>.txt` (compiled in), in the recipient's language,
//! and queued with [`send`] in the caller's transaction through the outbox ([`email`]).
//!
//! A template file reads like the mail: `Subject: …`, an empty line, then the plain-text body.
//! Both parts are minijinja templates with strict undefined values (a variable the template uses
//! but the mail does not supply is an error, never an empty string); `{{ t|datetime }}` shows a
//! Unix time in Japan time as `YYYY/MM/DD hh:mm:ss`, `{{ n|yen }}` an amount (8,800円 / ¥8,800).
//!
//! Every mail is then set in one frame per language, `mail/layout/<lang>.txt`: the service's
//! name in a 【…】 subject prefix, the greeting 「会社名 氏名 様」 (the reader's name from the
//! mail, their company from [`Addressee::company`]), and the footer: send-only, the
//! organisation's support text (its settings), the service's name.

use std::sync::{LazyLock, OnceLock};

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

/// The service's name as mails show it (`service_name` in the configuration).
static SERVICE_NAME: OnceLock<String> = OnceLock::new();

/// Names the service in every mail this process sends from now on (once, at start-up; the
/// default is `Inkan`).
pub fn set_service_name(name: &str) {
    let name = name.trim();
    if !name.is_empty() && SERVICE_NAME.set(name.to_owned()).is_err() {
        tracing::debug!("the service's name was set already");
    }
}

fn service_name() -> &'static str {
    SERVICE_NAME.get().map_or("Inkan", String::as_str)
}

/// What frames a mail around its own text: whose service, whom it greets, and whom to ask.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub service_name: &'a str,
    /// The reader's company, when known: 「会社名 氏名 様」.
    pub company: Option<&'a str>,
    /// The organisation's support text (may be several lines), or none.
    pub support: Option<&'a str>,
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
    PasswordReset { name: &'a str, reset_link: &'a str },
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
    /// 「電子証明書更新のお知らせ」: the expiry, the day renewal opens, and its price (excl. tax).
    CertificateRenewal {
        organisation: &'a str,
        price_jpy: i64,
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
    /// 「契約締結のお知らせ」: the signed documents are attached, or downloadable until a date;
    /// `trust_link` is the page that helps a reader trust Inkan's root certificate.
    ContractCompleted {
        name: &'a str,
        title: &'a str,
        organisation: &'a str,
        attached: bool,
        link: &'a str,
        link_expires_at: i64,
        trust_link: &'a str,
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

    /// The name the mail greets: the person it is about and sent to.
    fn reader(&self) -> String {
        match self {
            Mail::CertificateOrdered {
                family_name,
                given_name,
                ..
            }
            | Mail::CertificateIssued {
                family_name,
                given_name,
                ..
            }
            | Mail::CertificateRejected {
                family_name,
                given_name,
                ..
            }
            | Mail::CertificateRenewal {
                family_name,
                given_name,
                ..
            } => format!("{family_name} {given_name}"),
            Mail::AccountIssued { name, .. }
            | Mail::PasswordReset { name, .. }
            | Mail::PinSet { name, .. }
            | Mail::PinChanged { name, .. }
            | Mail::PinLocked { name, .. }
            | Mail::PinReset { name, .. }
            | Mail::ContractRequest { name, .. }
            | Mail::ContractReminder { name, .. }
            | Mail::ContractCode { name, .. }
            | Mail::ContractDeclined { name, .. }
            | Mail::ContractCancelled { name, .. }
            | Mail::ContractExpired { name, .. }
            | Mail::ContractCompleted { name, .. } => (*name).to_owned(),
        }
    }

    /// The subject and body in `lang`, in `frame`.
    pub fn render(&self, lang: Lang, frame: &Frame<'_>) -> anyhow::Result<Rendered> {
        let kind = self.kind().name();
        let env = TEMPLATES.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let values = minijinja::context! {
            lang => lang.as_str(),
            service_name => frame.service_name,
            ..minijinja::Value::from_serialize(self)
        };
        let render = |name: &str, part: &str, values: &minijinja::Value| {
            env.get_template(&template_name(name, lang, part))
                .and_then(|t| t.render(values))
                .map_err(|e| {
                    anyhow::anyhow!("rendering the {part} of the mail {name}/{lang}: {e:#}")
                })
        };
        let framed = minijinja::context! {
            lang => lang.as_str(),
            service_name => frame.service_name,
            company => frame.company.map(str::trim).filter(|c| !c.is_empty()),
            reader => self.reader(),
            support => frame.support.map(str::trim).filter(|s| !s.is_empty()),
            subject => render(kind, "subject", &values)?,
            body => render(kind, "body", &values)?,
        };
        // A subject is one line, whatever the values in it hold.
        let subject = render(LAYOUT, "subject", &framed)?.replace(['\r', '\n'], " ");
        Ok(Rendered {
            subject,
            body: render(LAYOUT, "body", &framed)?,
        })
    }
}

/// The frame's folder under `mail/`.
const LAYOUT: &str = "layout";

/// The layout's template file in `lang`.
fn layout_source(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => include_str!("../mail/layout/ja.txt"),
        Lang::En => include_str!("../mail/layout/en.txt"),
    }
}

/// `{{ t|datetime }}`: a Unix time as `YYYY/MM/DD hh:mm:ss` in Japan time (marked JST in
/// English).
fn datetime(state: &minijinja::State<'_, '_>, seconds: i64) -> String {
    let shown = crate::clock::jst_slashed(seconds);
    match lang_of(state) {
        Lang::Ja => shown,
        Lang::En => format!("{shown} JST"),
    }
}

/// `{{ n|yen }}`: an amount of money as people write it in the mail's language.
fn yen(state: &minijinja::State<'_, '_>, amount: i64) -> String {
    crate::i18n::yen(lang_of(state), amount)
}

fn lang_of(state: &minijinja::State<'_, '_>) -> Lang {
    state
        .lookup("lang")
        .and_then(|l| l.as_str().and_then(Lang::parse))
        .unwrap_or_default()
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
    env.add_filter("datetime", datetime);
    env.add_filter("yen", yen);
    let sources = Kind::ALL
        .iter()
        .map(|&kind| (kind.name(), kind.source(Lang::Ja), kind.source(Lang::En)))
        .chain([(LAYOUT, layout_source(Lang::Ja), layout_source(Lang::En))]);
    for (name, ja, en) in sources {
        for (lang, source) in [(Lang::Ja, ja), (Lang::En, en)] {
            let file = format!("mail/{name}/{lang}.txt");
            let (subject, body) = split(source).ok_or_else(|| {
                format!("{file} does not start with 'Subject: …' and an empty line")
            })?;
            for (part, source) in [("subject", subject), ("body", body)] {
                env.add_template_owned(template_name(name, lang, part), source)
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

/// Who receives a mail: the address, the organisation it is sent for (whose support text it
/// ends with), the language, and the company the greeting names.
#[derive(Debug, Clone, Copy)]
pub struct Addressee<'a> {
    pub org_id: &'a str,
    pub address: &'a str,
    pub lang: Lang,
    pub company: Company<'a>,
}

/// The company in a mail's greeting (「会社名 氏名 様」).
#[derive(Debug, Clone, Copy)]
pub enum Company<'a> {
    /// The organisation the mail is sent for: the reader is one of its users.
    Organisation,
    /// As written, e.g. the organisation on a certificate application.
    Named(&'a str),
    /// Not known (an outside party): the greeting names the person alone.
    Unknown,
}

impl<'a> Addressee<'a> {
    /// A user, at their address, in their language.
    pub fn user(user: &'a User) -> Self {
        Self {
            org_id: &user.org_id,
            address: &user.email,
            lang: user.language,
            company: Company::Organisation,
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
    let row = sqlx::query("SELECT name, mail_footer FROM organisations WHERE id = $1")
        .bind(to.org_id)
        .fetch_optional(&mut **tx)
        .await?;
    let (organisation, support) = match row {
        Some(r) => (
            r.try_get::<String, _>("name")?,
            r.try_get::<String, _>("mail_footer")?,
        ),
        None => (String::new(), String::new()),
    };
    let frame = Frame {
        service_name: service_name(),
        company: match to.company {
            Company::Organisation => Some(organisation.as_str()),
            Company::Named(name) => Some(name),
            Company::Unknown => None,
        },
        support: Some(support.as_str()),
    };
    let Rendered { subject, body } = mail.render(to.lang, &frame)?;
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
                price_jpy: 8000,
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
                trust_link: "https://sign.example.jp/trust",
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
                trust_link: "https://sign.example.jp/trust",
            },
        ]
    }

    /// The frame the snapshots show: a company and a support text of two lines.
    const FRAME: Frame<'static> = Frame {
        service_name: "Inkan",
        company: Some("株式会社印鑑テスト"),
        support: Some("お問い合わせ: 総務部 電子契約担当 (support@example.jp)\n電話 03-1234-5678(平日 9:00〜18:00)"),
    };

    fn render(mail: &Mail<'_>, lang: Lang) -> Rendered {
        render_in(mail, lang, &FRAME)
    }

    fn render_in(mail: &Mail<'_>, lang: Lang, frame: &Frame<'_>) -> Rendered {
        mail.render(lang, frame)
            .unwrap_or_else(|e| panic!("{:?}/{lang}: {e:#}", mail.kind()))
    }

    #[test]
    fn every_mail_is_framed_as_the_manual_asks() {
        let bare = Frame {
            service_name: "社内電子契約",
            company: None,
            support: Some("  "),
        };
        for mail in samples().iter().chain(&other_branches()) {
            let (ja, en) = (render(mail, Lang::Ja), render(mail, Lang::En));
            assert!(ja.subject.starts_with("【Inkan】"), "{}", ja.subject);
            assert!(en.subject.starts_with("[Inkan] "), "{}", en.subject);
            let greeting = format!("株式会社印鑑テスト {} 様\n", mail.reader());
            assert!(
                ja.body.starts_with(&greeting),
                "{:?}: {}",
                mail.kind(),
                ja.body
            );
            assert!(ja.body.contains("本メールは送信専用です"), "{}", ja.body);
            assert!(ja.body.contains("電話 03-1234-5678"), "{}", ja.body);
            assert!(en
                .body
                .starts_with(&format!("株式会社印鑑テスト\nDear {},\n", mail.reader())));
            assert!(en.body.contains("send-only"), "{}", en.body);
            // Another service name, no company known, a blank support text.
            let other = render_in(mail, Lang::Ja, &bare);
            assert!(
                other.subject.starts_with("【社内電子契約】"),
                "{}",
                other.subject
            );
            assert!(other.body.starts_with(&format!("{} 様\n", mail.reader())));
            assert!(other.body.ends_with("本メールは送信専用です。このアドレスにご返信いただいてもお答えできません。\n社内電子契約\n"), "{}", other.body);
            assert!(!other.body.contains("Inkan"), "{}", other.body);
        }
    }

    #[test]
    fn mail_dates_read_as_the_manual_writes_them() {
        let issued = &samples()[3];
        assert_eq!(issued.kind(), Kind::CertificateIssued);
        // 2027-04-01 10:00 JST.
        assert!(render(issued, Lang::Ja)
            .body
            .contains("有効期限: 2027/04/01 10:00:00\n"));
        assert!(render(issued, Lang::En)
            .body
            .contains("Expires: 2027/04/01 10:00:00 JST\n"));
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
            if name == LAYOUT {
                continue;
            }
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
            assert_eq!(
                render(mail, Lang::Ja).subject,
                format!("【Inkan】{subject}")
            );
            assert_ne!(
                render(mail, Lang::En).subject,
                format!("[Inkan] {subject}"),
                "translated"
            );
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
            bodies[3].contains("\n有効期限: 2027/04/01 10:00:00\n"),
            "{}",
            bodies[3]
        );
        assert!(bodies[3].contains("PNG、GIF、JPEG 形式、1 枚 512 KB まで"));
        assert!(bodies[3].contains("「変更する」"));
        assert!(bodies[5].contains("尚、本手続きには費用が発生します(1 年間 8,000円、税抜"));
        assert!(bodies[2].contains("料金: 8,000円(税抜、1 年間)+ 消費税 800円 = 合計 8,800円"));
        assert!(bodies[5].contains("\n氏名: 山田 太郎(Yamada Taro)\n"));
        assert!(bodies[5].contains("\n更新手続き開始日: 2026/04/01 10:00:00\n"));
        assert!(bodies[6].contains("(操作者: 管理者 管理 太郎)"));
        assert!(
            bodies[8].contains("2026/04/01 10:30:00 以降"),
            "{}",
            bodies[8]
        );
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
        assert!(
            other[4].starts_with(
                "株式会社印鑑テスト 佐藤 一郎 様\n\n管理者が署名PINをリセットしました。\n\
                 Inkan にログインし、プロフィールの「署名PIN」から新しいPINを設定してください。\n\n"
            ),
            "{}",
            other[4]
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
        // The organisation's support text ends every mail sent for it from now on.
        crate::settings::update(
            &db,
            5,
            &admin,
            &crate::settings::Change {
                mail_footer: Some("Support: soumu@example.jp\r\nTel 03-1234-5678".into()),
                ..Default::default()
            },
        )
        .await
        .expect("support text");
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
        .expect("queued");
        // A runner answers it, and leaves the mails queued.
        struct ResetsOnly(crate::jobs::work::Work);
        impl crate::jobs::Handler for ResetsOnly {
            fn kinds(&self) -> Vec<crate::jobs::Kind> {
                vec![crate::jobs::Kind::PasswordReset]
            }
            async fn run(&self, job: &crate::jobs::Job) -> anyhow::Result<()> {
                self.0.run(job).await
            }
        }
        let clock = crate::clock::Clock::system();
        let mailer = crate::email::Mailer::from_config(&config).expect("mailer");
        let work = crate::jobs::work::Work::new(db.clone(), clock.clone(), mailer);
        crate::jobs::Runner::new(db.clone(), clock, ResetsOnly(work))
            .run_until_idle()
            .await
            .expect("the reset job");
        let rows = sqlx::query("SELECT subject, body_text FROM outbox ORDER BY created_at")
            .fetch_all(&db.pool)
            .await
            .expect("outbox");
        let text = |i: usize, c: &str| -> String { rows[i].try_get(c).expect("text") };
        let subjects = [text(0, "subject"), text(1, "subject")];
        assert!(
            !text(0, "body_text").contains("soumu@example.jp"),
            "not before it was set"
        );
        let reset = text(1, "body_text");
        assert!(reset.starts_with("株式会社印鑑テスト\nDear "), "{reset}");
        assert!(
            reset.ends_with(
                "replies are not read.\nSupport: soumu@example.jp\nTel 03-1234-5678\nInkan\n"
            ),
            "{reset}"
        );
        // A new account is Japanese until its user chooses otherwise.
        assert_eq!(
            subjects,
            [
                "【Inkan】アカウント発行のお知らせ",
                "[Inkan] Resetting your password"
            ]
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
