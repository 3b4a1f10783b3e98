//! The signing-certificate lifecycle in the service: a signer's application (checked field by
//! field), the priced order (idempotent: one open application per signer, one order per
//! idempotency key), the identity check by the instance operator, issuance by Inkan's CA with
//! exactly the applicant's data, the certificates on record, and the billing ledger. Emails go
//! out through the outbox in the same transaction as the change they announce.

use ca::application::SignerApplication;
use ca::authority::KeyHolder;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Connection, Row, Transaction};

use crate::accounts::{new_id, Email, Role, User};
use crate::acting::Acting;
use crate::audit;
use crate::ca_store::Ca;
use crate::db::{stored, stored_text, Db, UnknownText};
use crate::error::{unique_violation, Failure, FieldError};
use crate::i18n::Lang;
use crate::mail::{self, Addressee, Company, Mail};

/// The price of one year, in yen, tax excluded.
pub const PRICE_JPY: i64 = 8_000;
/// Consumption tax, 10 %.
pub const TAX_JPY: i64 = PRICE_JPY / 10;

/// The 47 prefectures (都道府県), in their official order.
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// The applicant form as submitted (every field a string; the API and the pages share it).
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
#[serde(default)]
pub struct ApplicantForm {
    /// 組織名 (at most 64 characters).
    pub organisation: String,
    /// 郵便番号: 7 digits, with or without the hyphen.
    pub postal_code: String,
    /// Two-letter country code (JP).
    pub country: String,
    /// 都道府県: one of the 47.
    pub prefecture: String,
    /// 市区町村
    pub city: String,
    /// 番地
    pub street: String,
    /// 建物名 (optional)
    pub building: String,
    /// 姓
    pub family_name: String,
    /// 名
    pub given_name: String,
    /// 姓 (ローマ字): Latin letters, spaces and hyphens.
    pub family_name_romaji: String,
    /// 名 (ローマ字)
    pub given_name_romaji: String,
    /// 部署名・店舗名
    pub department: String,
    /// 電話番号
    pub phone: String,
    /// メールアドレス
    pub email: String,
}

/// A checked application: every value trimmed and normalised.
#[derive(Debug, Clone, Serialize)]
pub struct Applicant {
    pub organisation: String,
    /// `123-4567`
    pub postal_code: String,
    pub country: String,
    pub prefecture: String,
    pub city: String,
    pub street: String,
    pub building: String,
    pub family_name: String,
    pub given_name: String,
    pub family_name_romaji: String,
    pub given_name_romaji: String,
    pub department: String,
    pub phone: String,
    pub email: String,
}

impl From<&Applicant> for ApplicantForm {
    /// The form prefilled with checked values (「変更する」 starts from the current data).
    fn from(a: &Applicant) -> Self {
        Self {
            organisation: a.organisation.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            prefecture: a.prefecture.clone(),
            city: a.city.clone(),
            street: a.street.clone(),
            building: a.building.clone(),
            family_name: a.family_name.clone(),
            given_name: a.given_name.clone(),
            family_name_romaji: a.family_name_romaji.clone(),
            given_name_romaji: a.given_name_romaji.clone(),
            department: a.department.clone(),
            phone: a.phone.clone(),
            email: a.email.clone(),
        }
    }
}

pub(crate) fn text(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        if required {
            errors.push(FieldError::new(field, "error.required"));
        }
    } else if v.chars().count() > max {
        errors.push(FieldError::new(field, "error.too_long"));
    } else if v.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "error.control_characters"));
    }
    v.to_owned()
}

impl ApplicantForm {
    /// Checks every field and reports all problems at once.
    pub fn check(&self) -> Result<Applicant, Failure> {
        let mut errors = Vec::new();
        let organisation = text(&mut errors, "organisation", &self.organisation, 64, true);
        let postal_raw = text(&mut errors, "postal_code", &self.postal_code, 8, true);
        let postal_code = if postal_raw.is_empty() {
            String::new()
        } else {
            match normalise_postal_code(&postal_raw) {
                Some(p) => p,
                None => {
                    errors.retain(|e| e.field != "postal_code");
                    errors.push(FieldError::new("postal_code", "error.postal_code"));
                    String::new()
                }
            }
        };
        // Required as marked: the form shows JP filled in; an emptied field is refused rather
        // than silently read as Japan.
        let country_raw = self.country.trim();
        let country = if country_raw.is_empty() {
            errors.push(FieldError::new("country", "error.required"));
            String::new()
        } else if country_raw.len() == 2 && country_raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            country_raw.to_ascii_uppercase()
        } else {
            errors.push(FieldError::new("country", "error.country"));
            String::new()
        };
        let prefecture = self.prefecture.trim().to_owned();
        if prefecture.is_empty() {
            errors.push(FieldError::new("prefecture", "error.required"));
        } else if !PREFECTURES.contains(&prefecture.as_str()) {
            errors.push(FieldError::new("prefecture", "error.prefecture"));
        }
        let city = text(&mut errors, "city", &self.city, 128, true);
        let street = text(&mut errors, "street", &self.street, 100, true);
        let building = text(&mut errors, "building", &self.building, 60, false);
        let family_name = text(&mut errors, "family_name", &self.family_name, 30, true);
        let given_name = text(&mut errors, "given_name", &self.given_name, 30, true);
        let family_name_romaji =
            romaji(&mut errors, "family_name_romaji", &self.family_name_romaji);
        let given_name_romaji = romaji(&mut errors, "given_name_romaji", &self.given_name_romaji);
        let department = text(&mut errors, "department", &self.department, 64, true);
        let phone = text(&mut errors, "phone", &self.phone, 20, true);
        if !phone.is_empty() && !valid_phone(&phone) {
            errors.retain(|e| e.field != "phone");
            errors.push(FieldError::new("phone", "error.phone"));
        }
        // The accounts' rule, which every certificate's rfc822Name also meets.
        let email = match Email::parse(&self.email) {
            Ok(e) => e.as_str().to_owned(),
            Err(e) => {
                errors.push(e.on("email"));
                String::new()
            }
        };
        if !errors.is_empty() {
            return Err(Failure::Invalid(errors));
        }
        let applicant = Applicant {
            organisation,
            postal_code,
            country,
            prefecture,
            city,
            street,
            building,
            family_name,
            given_name,
            family_name_romaji,
            given_name_romaji,
            department,
            phone,
            email,
        };
        if applicant.common_name().chars().count() > 64 {
            return Err(Failure::invalid("family_name_romaji", "error.too_long"));
        }
        applicant.issuable()?;
        Ok(applicant)
    }
}

fn romaji(errors: &mut Vec<FieldError>, field: &'static str, value: &str) -> String {
    let v = text(errors, field, value, 30, true);
    let latin = v
        .chars()
        .all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-');
    if !v.is_empty() && (!latin || !v.chars().any(|c| c.is_ascii_alphabetic())) {
        errors.retain(|e| e.field != field);
        errors.push(FieldError::new(field, "error.romaji"));
    }
    // Runs of spaces become one.
    v.split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `1234567`, `123-4567` and full-width digits → `123-4567`.
pub fn normalise_postal_code(s: &str) -> Option<String> {
    let digits: String = s
        .chars()
        .filter(|c| *c != '-' && *c != 'ー' && *c != '－')
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .collect();
    let hyphens = s.chars().filter(|c| matches!(c, '-' | 'ー' | '－')).count();
    let hyphen_ok = hyphens == 0
        || (hyphens == 1
            && s.chars()
                .nth(3)
                .is_some_and(|c| matches!(c, '-' | 'ー' | '－')));
    (digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()) && hyphen_ok)
        .then(|| format!("{}-{}", &digits[..3], &digits[3..]))
}

/// 10 to 15 digits, with optional hyphens, spaces, parentheses and a leading +.
fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (10..=15).contains(&digits)
        && s.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')') || (c == '+' && i == 0)
        })
}

impl Applicant {
    /// The certificate's common name: the romaji name as entered, family name first.
    pub fn common_name(&self) -> String {
        format!("{} {}", self.family_name_romaji, self.given_name_romaji)
    }

    /// Street and building, as the certificate's street address.
    pub fn street_address(&self) -> String {
        if self.building.is_empty() {
            self.street.clone()
        } else {
            format!("{} {}", self.street, self.building)
        }
    }

    /// Refuses what the CA would refuse at issuance, next to the field it comes from, so that
    /// nothing is ordered (and charged) that could never be issued.
    pub fn issuable(&self) -> Result<(), Failure> {
        match self.ca_application().and_then(|a| a.subject()) {
            Ok(_) => Ok(()),
            Err(ca::error::CaError::Invalid { field, reason }) => {
                tracing::info!(field, reason, "an application the CA would refuse");
                let field = match field {
                    "country" => "country",
                    "state or province" => "prefecture",
                    "locality" => "city",
                    "street address" => "building",
                    "postal code" => "postal_code",
                    "organisation" => "organisation",
                    "organisational unit" => "department",
                    "common name" => "family_name_romaji",
                    "email" => "email",
                    _ => "organisation",
                };
                Err(Failure::Invalid(vec![FieldError::new(
                    field,
                    "error.ca_refuses",
                )]))
            }
            Err(e) => Err(Failure::Internal(e.into())),
        }
    }

    fn ca_application(&self) -> Result<SignerApplication, ca::error::CaError> {
        Ok(SignerApplication {
            country: ca::application::Country::parse(&self.country)?,
            state_or_province: Some(self.prefecture.clone()),
            locality: Some(self.city.clone()),
            street_address: Some(self.street_address()),
            postal_code: Some(self.postal_code.clone()),
            organisation: Some(self.organisation.clone()),
            organisational_unit: Some(self.department.clone()),
            common_name: self.common_name(),
            email: ca::application::Email::parse(&self.email)?,
        })
    }

    /// The CA's application: exactly these values (the phone and the Japanese name stay in the
    /// application record).
    pub fn to_ca(&self) -> anyhow::Result<SignerApplication> {
        Ok(self.ca_application()?)
    }
}

stored_text! {
    /// Where an application (order) stands: `certificate_applications.status`.
    pub enum OrderStatus("application status") {
        /// A free re-issue after a PIN reset, waiting for the user's new PIN.
        AwaitingPin = "awaiting_pin",
        /// Waiting for the identity check.
        Pending = "pending",
        /// Approved; the CA is issuing (back to pending if it fails).
        Issuing = "issuing",
        Issued = "issued",
        Rejected = "rejected",
    }
}

impl OrderStatus {
    /// The open applications, at most one per user: the same two as the partial unique index
    /// `certificate_applications_one_open` (migration 0004).
    pub const OPEN: [OrderStatus; 2] = [OrderStatus::Pending, OrderStatus::Issuing];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

/// An application (order) on record.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub order_id: String,
    /// `awaiting_pin`, `pending` (awaiting the identity check), `issuing`, `issued` or
    /// `rejected`.
    pub status: OrderStatus,
    /// `new`, `renewal`, `change` or `reissue` (the replaced serial is not serialised).
    pub kind: OrderKind,
    pub common_name: String,
    pub price_jpy: i64,
    pub tax_jpy: i64,
    pub created_at: i64,
    pub applicant: Applicant,
    pub reject_reason: Option<String>,
    /// The issued certificate's serial (hex).
    pub serial: Option<String>,
    #[serde(skip)]
    pub user_id: String,
    #[serde(skip)]
    pub org_id: String,
}

const ORDER_COLUMNS: &str = "order_id, status, kind, common_name, price_jpy, tax_jpy, created_at, \
    organisation, postal_code, country, prefecture, city, street, building, family_name, \
    given_name, family_name_romaji, given_name_romaji, department, phone, email, reject_reason, \
    serial, user_id, org_id, replaces_serial";

impl Order {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            order_id: r.try_get("order_id")?,
            status: stored(r, "status", OrderStatus::parse)?,
            kind: OrderKind::from_row(r)?,
            common_name: r.try_get("common_name")?,
            price_jpy: r.try_get("price_jpy")?,
            tax_jpy: r.try_get("tax_jpy")?,
            created_at: r.try_get("created_at")?,
            applicant: Applicant {
                organisation: r.try_get("organisation")?,
                postal_code: r.try_get("postal_code")?,
                country: r.try_get("country")?,
                prefecture: r.try_get("prefecture")?,
                city: r.try_get("city")?,
                street: r.try_get("street")?,
                building: r.try_get("building")?,
                family_name: r.try_get("family_name")?,
                given_name: r.try_get("given_name")?,
                family_name_romaji: r.try_get("family_name_romaji")?,
                given_name_romaji: r.try_get("given_name_romaji")?,
                department: r.try_get("department")?,
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
            },
            reject_reason: r.try_get("reject_reason")?,
            serial: r.try_get("serial")?,
            user_id: r.try_get("user_id")?,
            org_id: r.try_get("org_id")?,
        })
    }
}

/// Who may hold a certificate: a signer (alone or with another role), never a transaction
/// agent, who makes simple signatures only.
pub fn may_apply(user: &User) -> Result<(), Failure> {
    if user.roles.has(Role::Signer) {
        Ok(())
    } else if user.roles.has(Role::TransactionAgent) {
        Err(Failure::BadRequest("error.agent_simple_only"))
    } else {
        Err(Failure::Forbidden)
    }
}

/// An idempotency key: 8 to 64 letters, digits, `-` or `_`.
pub fn check_idempotency_key(key: &str) -> Result<(), Failure> {
    let ok = (8..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Failure::invalid("idempotency_key", "error.idempotency_key"))
    }
}

/// What an order is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKind {
    /// A first certificate.
    New,
    /// A new certificate with the same data, replacing this serial when issued.
    Renewal(String),
    /// A re-issue with changed data; this serial is revoked (superseded) when issued.
    Change(String),
    /// A free re-issue with the same data after an administrator reset the signing PIN (this
    /// serial was revoked then); it waits for the new PIN, and is issued when it is set.
    Reissue(String),
}

stored_text! {
    /// The stored name of an [`OrderKind`]: `certificate_applications.kind`.
    enum KindName("order kind") {
        New = "new",
        Renewal = "renewal",
        Change = "change",
        Reissue = "reissue",
    }
}

impl OrderKind {
    fn name(&self) -> KindName {
        match self {
            OrderKind::New => KindName::New,
            OrderKind::Renewal(_) => KindName::Renewal,
            OrderKind::Change(_) => KindName::Change,
            OrderKind::Reissue(_) => KindName::Reissue,
        }
    }

    /// The stored name (also the JSON's and the mails').
    pub(crate) fn as_str(&self) -> &'static str {
        self.name().as_str()
    }

    /// The kind stored as `kind` and `replaces_serial`: every kind but `new` replaces a
    /// certificate, and only those do.
    fn parse(kind: &str, replaces: Option<String>) -> Result<Self, UnknownText> {
        Ok(match (KindName::parse(kind)?, replaces) {
            (KindName::New, None) => OrderKind::New,
            (KindName::Renewal, Some(s)) => OrderKind::Renewal(s),
            (KindName::Change, Some(s)) => OrderKind::Change(s),
            (KindName::Reissue, Some(s)) => OrderKind::Reissue(s),
            (name, replaces) => {
                return Err(UnknownText {
                    what: "order kind",
                    text: format!("{name} replacing {replaces:?}"),
                })
            }
        })
    }

    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let name: String = r.try_get("kind")?;
        Self::parse(&name, r.try_get("replaces_serial")?).map_err(|e| sqlx::Error::ColumnDecode {
            index: "kind".into(),
            source: Box::new(e),
        })
    }

    /// What the certificate it replaces becomes once it is issued: a renewed one is superseded
    /// (valid until it expires), a changed or re-issued one was revoked by the CA.
    fn replaced_status(&self) -> CertStatus {
        match self {
            OrderKind::Change(_) | OrderKind::Reissue(_) => CertStatus::Revoked,
            OrderKind::New | OrderKind::Renewal(_) => CertStatus::Superseded,
        }
    }

    /// Price and tax: a re-issue after a PIN reset is free.
    fn price(&self) -> (i64, i64) {
        match self {
            OrderKind::Reissue(_) => (0, 0),
            _ => (PRICE_JPY, TAX_JPY),
        }
    }

    fn replaces(&self) -> Option<&str> {
        match self {
            OrderKind::New => None,
            OrderKind::Renewal(s) | OrderKind::Change(s) | OrderKind::Reissue(s) => Some(s),
        }
    }
}

/// Serialised as its name alone.
impl Serialize for OrderKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Places the order for `user`'s certificate. The same `idempotency_key` returns the same order
/// (`false`: nothing new); another open application of the user is a conflict. The order, its
/// charge, the audit entry and the 「電子証明書申込受付のお知らせ」 land together.
pub async fn place_order(
    db: &Db,
    now: i64,
    acting: &Acting,
    applicant: &Applicant,
    idempotency_key: &str,
    kind: &OrderKind,
) -> Result<(Order, bool), Failure> {
    let user = acting.user();
    may_apply(user)?;
    check_idempotency_key(idempotency_key)?;
    if let Some(existing) = order_by_key(db, &user.id, idempotency_key).await? {
        return Ok((existing, false));
    }
    let mut tx = db.begin().await?;
    match write_order(
        &mut tx,
        &db.audit,
        now,
        acting,
        applicant,
        idempotency_key,
        kind,
    )
    .await
    {
        Ok(_) => tx.commit().await?,
        Err(Failure::Conflict(fields)) => {
            drop(tx);
            // A concurrent request with the same key won, or another application is open.
            if let Some(existing) = order_by_key(db, &user.id, idempotency_key).await? {
                return Ok((existing, false));
            }
            return Err(Failure::Conflict(fields));
        }
        Err(e) => return Err(e),
    }
    let order = order_by_key(db, &user.id, idempotency_key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the order just placed is missing"))?;
    Ok((order, true))
}

/// Places the free re-issue a PIN reset orders, on the reset's own transaction: the reset and
/// its re-issue commit together or not at all. Returns the order id.
pub(crate) async fn place_reissue(
    tx: &mut Transaction<'static, Any>,
    seal: &audit::Seal,
    now: i64,
    acting: &Acting,
    applicant: &Applicant,
    serial: &str,
) -> Result<String, Failure> {
    let key = format!("reissue-{serial}");
    let key = &key[..key.len().min(64)];
    write_order(
        tx,
        seal,
        now,
        acting,
        applicant,
        key,
        &OrderKind::Reissue(serial.to_owned()),
    )
    .await
}

/// Writes an order with its charge, audit entry and mail on `tx`; another open application of
/// the user, or the same idempotency key, is a conflict.
async fn write_order(
    tx: &mut Transaction<'static, Any>,
    seal: &audit::Seal,
    now: i64,
    acting: &Acting,
    applicant: &Applicant,
    idempotency_key: &str,
    kind: &OrderKind,
) -> Result<String, Failure> {
    let (actor, user) = (acting.actor(), acting.user());
    // Checked again here: a renewal or re-issue orders data checked under older rules.
    applicant.issuable()?;
    let day = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9"))
        .format("%Y%m%d")
        .to_string();
    let seq: i64 = sqlx::query(
        "INSERT INTO order_counters (day, last) VALUES ($1, 1) \
         ON CONFLICT (day) DO UPDATE SET last = order_counters.last + 1 RETURNING last",
    )
    .bind(&day)
    .fetch_one(&mut **tx)
    .await?
    .try_get("last")?;
    let order_id = format!("INK{day}{seq:04}");
    let common_name = applicant.common_name();
    let (price, tax) = kind.price();
    // A re-issue waits for the new PIN instead of an identity check.
    let status = if matches!(kind, OrderKind::Reissue(_)) {
        OrderStatus::AwaitingPin
    } else {
        OrderStatus::Pending
    };
    let a = applicant;
    sqlx::query(
        "INSERT INTO certificate_applications (id, order_id, org_id, user_id, idempotency_key, \
         status, organisation, postal_code, country, prefecture, city, street, building, \
         family_name, given_name, family_name_romaji, given_name_romaji, department, phone, email, \
         common_name, price_jpy, tax_jpy, created_at, kind, replaces_serial) VALUES ($1, $2, $3, \
         $4, $5, $26, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
         $20, $21, $22, $23, $24, $25)",
    )
    .bind(new_id()?)
    .bind(&order_id)
    .bind(&user.org_id)
    .bind(&user.id)
    .bind(idempotency_key)
    .bind(&a.organisation)
    .bind(&a.postal_code)
    .bind(&a.country)
    .bind(&a.prefecture)
    .bind(&a.city)
    .bind(&a.street)
    .bind(&a.building)
    .bind(&a.family_name)
    .bind(&a.given_name)
    .bind(&a.family_name_romaji)
    .bind(&a.given_name_romaji)
    .bind(&a.department)
    .bind(&a.phone)
    .bind(&a.email)
    .bind(&common_name)
    .bind(price)
    .bind(tax)
    .bind(now)
    .bind(kind.as_str())
    .bind(kind.replaces())
    .bind(status.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, FieldError::new("order", "error.application_open")))?;
    book(
        tx,
        now,
        &user.org_id,
        &order_id,
        ChargeKind::Charge,
        price,
        tax,
    )
    .await?;
    audit::append(
        tx,
        seal,
        now,
        &audit::Event {
            org_id: Some(&user.org_id),
            actor: Some(&actor.id),
            action: "certificate.ordered",
            detail: serde_json::json!({
                "order": order_id, "common_name": common_name, "price_jpy": price,
                "kind": kind.as_str(), "replaces": kind.replaces(), "for": user.id,
            }),
        },
    )
    .await?;
    let name = format!("{} {}", a.family_name, a.given_name);
    let notice = match kind {
        // The free re-issue is the news of the PIN reset that caused it.
        OrderKind::Reissue(_) => Mail::PinReset {
            name: &name,
            reissue_order: Some(&order_id),
        },
        _ => Mail::CertificateOrdered {
            family_name: &a.family_name,
            given_name: &a.given_name,
            order_kind: kind,
            order_id: &order_id,
            common_name: &common_name,
            price_jpy: price,
            tax_jpy: tax,
            phone: &a.phone,
        },
    };
    let to = Addressee {
        org_id: &user.org_id,
        address: &a.email,
        lang: user.language,
        company: Company::Named(&a.organisation),
    };
    mail::send(tx, now, &to, &notice).await?;
    Ok(order_id)
}

async fn order_by_key(db: &Db, user_id: &str, key: &str) -> Result<Option<Order>, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM certificate_applications \
         WHERE user_id = $1 AND idempotency_key = $2"
    ))
    .bind(user_id)
    .bind(key)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.as_ref().map(Order::from_row).transpose()?)
}

/// The user's applications, newest first.
pub async fn orders_of(db: &Db, user: &User) -> Result<Vec<Order>, Failure> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM certificate_applications WHERE user_id = $1 \
         ORDER BY created_at DESC, order_id DESC"
    ))
    .bind(&user.id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(Order::from_row).collect::<Result<_, _>>()?)
}

/// A signer's certificates and applications, and what they may do next.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// Whether 「申請する」 is allowed now.
    pub can_apply: bool,
    /// Why not (a message key), when `can_apply` is false.
    pub reason: Option<&'static str>,
    pub applications: Vec<Order>,
    pub certificates: Vec<CertificateView>,
    /// The active certificate that 「更新する」 would renew, once renewal has opened.
    pub renewable: Option<String>,
    /// When renewal opens for the active certificate.
    pub renewal_from: Option<i64>,
    /// The active certificate that 「変更する」 would replace.
    pub changeable: Option<String>,
    /// Certificates of other CAs imported with their keys, newest first.
    pub imported: Vec<crate::imported::ImportedView>,
}

pub async fn overview(db: &Db, now: i64, user: &User) -> Result<Overview, Failure> {
    let applications = orders_of(db, user).await?;
    let certificates = certificates_of(db, user).await?;
    let open = applications.iter().any(|o| o.status.is_open());
    let active = certificates
        .iter()
        .find(|c| c.status == CertStatus::Active && c.not_after > now);
    let reason = match may_apply(user) {
        Err(f) => Some(f.key()),
        Ok(()) if open => Some("error.application_open"),
        Ok(()) if active.is_some() => Some("error.certificate_active"),
        Ok(()) => None,
    };
    let may = may_apply(user).is_ok() && !open;
    Ok(Overview {
        can_apply: reason.is_none(),
        reason,
        renewable: active
            .filter(|c| may && now >= renewal_from(c.not_after))
            .map(|c| c.serial.clone()),
        renewal_from: active.map(|c| renewal_from(c.not_after)),
        changeable: active.filter(|_| may).map(|c| c.serial.clone()),
        applications,
        certificates,
        imported: crate::imported::list(db, &user.id).await?,
    })
}

stored_text! {
    /// Where a certificate on record stands: `certificates.status`.
    pub enum CertStatus("certificate status") {
        /// The user's current certificate: the one that signs, within its validity period.
        Active = "active",
        /// Revoked by the CA: replaced by a change or a free re-issue, or its key was bound to
        /// a PIN that was reset.
        Revoked = "revoked",
        /// Replaced by a renewal: valid until it expires, but no longer used to sign.
        Superseded = "superseded",
    }
}

/// A certificate on record.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    /// Hex serial number.
    pub serial: String,
    pub order_id: String,
    /// RFC 4514 subject.
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    /// `active`, `revoked` or `superseded`.
    pub status: CertStatus,
    pub cert_pem: String,
}

/// The user's certificates, newest first.
pub async fn certificates_of(db: &Db, user: &User) -> Result<Vec<CertificateView>, Failure> {
    let rows = sqlx::query(
        "SELECT serial, order_id, subject, not_before, not_after, status, cert_pem \
         FROM certificates WHERE user_id = $1 ORDER BY created_at DESC, serial",
    )
    .bind(&user.id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CertificateView {
                serial: r.try_get("serial")?,
                order_id: r.try_get("order_id")?,
                subject: r.try_get("subject")?,
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
                status: stored(r, "status", CertStatus::parse)?,
                cert_pem: r.try_get("cert_pem")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// Whether the user has an open application (waiting for the identity check or being issued).
pub(crate) async fn has_open_application(db: &Db, user_id: &str) -> Result<bool, Failure> {
    let [pending, issuing] = OrderStatus::OPEN;
    let row = sqlx::query(
        "SELECT 1 AS x FROM certificate_applications WHERE user_id = $1 AND status IN ($2, $3)",
    )
    .bind(user_id)
    .bind(pending.as_str())
    .bind(issuing.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Sets the status of certificate `serial`, in the caller's transaction.
pub(crate) async fn set_status(
    conn: &mut AnyConnection,
    serial: &str,
    status: CertStatus,
) -> Result<(), Failure> {
    sqlx::query("UPDATE certificates SET status = $2 WHERE serial = $1")
        .bind(serial)
        .bind(status.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The user's certificates whose keys the CA's key store still holds (no PIN envelope), among
/// those whose keys still matter: active or superseded (valid until they expire).
pub(crate) async fn held_by_ca(db: &Db, user_id: &str) -> Result<Vec<String>, Failure> {
    let rows = sqlx::query(
        "SELECT serial FROM certificates WHERE user_id = $1 AND key_envelope IS NULL \
         AND status IN ($2, $3)",
    )
    .bind(user_id)
    .bind(CertStatus::Active.as_str())
    .bind(CertStatus::Superseded.as_str())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("serial"))
        .collect::<Result<_, _>>()?)
}

/// Stores the PIN envelope of `serial`'s key unless one is stored already (a concurrent move);
/// whether this call stored it.
pub(crate) async fn store_envelope(
    conn: &mut AnyConnection,
    serial: &str,
    envelope: Vec<u8>,
) -> Result<bool, Failure> {
    let updated = sqlx::query(
        "UPDATE certificates SET key_envelope = $2 WHERE serial = $1 AND key_envelope IS NULL",
    )
    .bind(serial)
    .bind(envelope)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A certificate whose key is sealed to its owner's PIN.
#[derive(Debug, Clone)]
pub(crate) struct PinBound {
    pub serial: String,
    pub status: CertStatus,
    pub not_after: i64,
}

/// The user's active and superseded certificates whose keys are sealed to their PIN, newest
/// first.
pub(crate) async fn pin_bound(
    conn: &mut AnyConnection,
    user_id: &str,
) -> Result<Vec<PinBound>, Failure> {
    let rows = sqlx::query(
        "SELECT serial, status, not_after FROM certificates WHERE user_id = $1 \
         AND key_envelope IS NOT NULL AND status IN ($2, $3) \
         ORDER BY created_at DESC, serial",
    )
    .bind(user_id)
    .bind(CertStatus::Active.as_str())
    .bind(CertStatus::Superseded.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PinBound {
                serial: r.try_get("serial")?,
                status: stored(r, "status", CertStatus::parse)?,
                not_after: r.try_get("not_after")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The user's free re-issues waiting for a new PIN, oldest first.
pub(crate) async fn awaiting_pin(db: &Db, user_id: &str) -> Result<Vec<String>, Failure> {
    let rows = sqlx::query(
        "SELECT order_id FROM certificate_applications WHERE user_id = $1 AND status = $2 \
         ORDER BY created_at",
    )
    .bind(user_id)
    .bind(OrderStatus::AwaitingPin.as_str())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("order_id"))
        .collect::<Result<_, _>>()?)
}

/// The new PIN is set: the re-issue `order_id` stops waiting for it and is pending, ready to be
/// approved. `false` when it was not waiting (another process took it) or another application
/// of the user is open (the re-issue waits for that one). Under a savepoint, so the refused
/// move leaves a caller's transaction usable on PostgreSQL.
pub(crate) async fn end_pin_wait(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<bool, Failure> {
    let mut savepoint = conn.begin().await?;
    let moved = sqlx::query(
        "UPDATE certificate_applications SET status = $2 WHERE order_id = $1 AND status = $3",
    )
    .bind(order_id)
    .bind(OrderStatus::Pending.as_str())
    .bind(OrderStatus::AwaitingPin.as_str())
    .execute(&mut *savepoint)
    .await;
    match moved {
        Ok(r) => {
            savepoint.commit().await?;
            Ok(r.rows_affected() == 1)
        }
        // The one open application per user (a unique index).
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation) =>
        {
            savepoint.rollback().await?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// An application waiting in the identity-check queue.
#[derive(Debug, Clone, Serialize)]
pub struct PendingCheck {
    pub order_id: String,
    pub common_name: String,
    pub organisation_account: String,
    pub created_at: i64,
    pub applicant: Applicant,
}

/// Every pending application, oldest first (the instance operator's queue).
pub async fn pending_checks(db: &Db) -> Result<Vec<PendingCheck>, Failure> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS}, (SELECT name FROM organisations o WHERE o.id = a.org_id) AS org_name \
         FROM certificate_applications a WHERE status = $1 ORDER BY created_at, order_id"
    ))
    .bind(OrderStatus::Pending.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let order = Order::from_row(r)?;
            Ok(PendingCheck {
                order_id: order.order_id,
                common_name: order.common_name,
                organisation_account: r.try_get("org_name")?,
                created_at: order.created_at,
                applicant: order.applicant,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The verifier's record of the identity check.
#[derive(Debug, Clone)]
pub struct Check {
    /// How the identity was confirmed (e.g. "電話", "対面", "身分証明書").
    pub method: String,
    pub note: String,
}

impl Check {
    pub fn parse(method: &str, note: &str) -> Result<Self, Failure> {
        Self::with_reason(method, note, None).map(|(check, _)| check)
    }

    /// A rejection's check and its reason, every missing or bad one reported at once.
    pub fn parse_rejection(
        method: &str,
        note: &str,
        reason: &str,
    ) -> Result<(Self, String), Failure> {
        Self::with_reason(method, note, Some(reason))
    }

    fn with_reason(
        method: &str,
        note: &str,
        reason: Option<&str>,
    ) -> Result<(Self, String), Failure> {
        let mut errors = Vec::new();
        let method = text(&mut errors, "method", method, 100, true);
        let note = text(&mut errors, "note", note, 1000, false);
        let reason = reason
            .map(|r| text(&mut errors, "reason", r, 1000, true))
            .unwrap_or_default();
        if errors.is_empty() {
            Ok((Self { method, note }, reason))
        } else {
            Err(Failure::Invalid(errors))
        }
    }
}

/// Claims a pending application for a decision (so two verifiers cannot both decide).
/// Moves a pending order to `to` on the caller's transaction (another approval or rejection
/// of the same order waits for it, then finds it no longer pending).
async fn claim(tx: &mut AnyConnection, order_id: &str, to: OrderStatus) -> Result<Order, Failure> {
    let claimed = sqlx::query(
        "UPDATE certificate_applications SET status = $2 WHERE order_id = $1 AND status = $3",
    )
    .bind(order_id)
    .bind(to.as_str())
    .bind(OrderStatus::Pending.as_str())
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 AS x FROM certificate_applications WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(match exists {
            Some(_) => Failure::Conflict(vec![FieldError::new("order", "error.not_pending")]),
            None => Failure::NotFound,
        });
    }
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM certificate_applications WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Order::from_row(&row)?)
}

/// Approves the identity check: the CA issues the certificate with exactly the applicant's
/// data, the applicant gets 「電子証明書発行のお知らせ」. One transaction holds it all — the
/// order's move, the CA's certificate and key, the certificate row, the old certificate's
/// replacement, the audit entries and the mail — so an interruption at any point leaves the
/// order pending and the CA without the certificate.
pub async fn approve(
    db: &Db,
    now: i64,
    ca: Option<&Ca>,
    verifier: &User,
    order_id: &str,
    check: &Check,
) -> Result<CertificateView, Failure> {
    let ca = ca.ok_or(Failure::BadRequest("error.no_ca"))?;
    let mut tx = db.begin().await?;
    let order = claim(&mut tx, order_id, OrderStatus::Issued).await?;
    let ca_app = order.applicant.to_ca()?;
    let kind = order.kind.clone();
    // With a signing PIN set, the new key is sealed to it and the CA keeps no copy.
    let recipient = crate::pins::recipient(db, &order.user_id).await?;
    let old: Vec<&str> = order.kind.replaces().into_iter().collect();
    let staged = ca.stage(&mut tx, &old, &[]).await?;
    let (staged, issued) = tokio::task::spawn_blocking(move || {
        let holder = match &recipient {
            Some(r) => KeyHolder::Pin(r),
            None => KeyHolder::Ca,
        };
        let a = &staged.authority;
        let issued = match &kind {
            OrderKind::New | OrderKind::Reissue(_) => a.issue_for(&ca_app, holder),
            OrderKind::Renewal(old) => {
                ca::certstore::Serial::parse(old).and_then(|s| a.renew_for(&s, holder))
            }
            OrderKind::Change(old) => {
                ca::certstore::Serial::parse(old).and_then(|s| a.change_for(&s, &ca_app, holder))
            }
        };
        (staged, issued)
    })
    .await
    .map_err(|e| Failure::Internal(e.into()))?;
    let (record, envelope) = match issued {
        Ok(r) => (r.record, r.envelope),
        Err(e) => return Err(Failure::Internal(anyhow::anyhow!("the CA refused: {e}"))),
    };
    staged.flush(&mut tx, now).await?;
    let serial = record.serial.to_string();
    let pem = pem_rfc7468_encode(&record.cert_der);
    sqlx::query(
        "UPDATE certificate_applications SET status = $7, checked_by = $2, checked_at = $3, \
         check_method = $4, check_note = $5, serial = $6 WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(&verifier.id)
    .bind(now)
    .bind(&check.method)
    .bind(&check.note)
    .bind(&serial)
    .bind(OrderStatus::Issued.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO certificates (serial, org_id, user_id, order_id, subject, cert_pem, \
         not_before, not_after, status, created_at, key_envelope) VALUES ($1, $2, $3, $4, $5, \
         $6, $7, $8, $11, $9, $10)",
    )
    .bind(&serial)
    .bind(&order.org_id)
    .bind(&order.user_id)
    .bind(order_id)
    .bind(&record.subject)
    .bind(&pem)
    .bind(record.not_before as i64)
    .bind(record.not_after as i64)
    .bind(now)
    .bind(envelope)
    .bind(CertStatus::Active.as_str())
    .execute(&mut *tx)
    .await?;
    // The new certificate takes over.
    if let Some(old) = order.kind.replaces() {
        set_status(&mut tx, old, order.kind.replaced_status()).await?;
    }
    for (org, action) in [
        (None, "identity_check.approved"),
        (Some(order.org_id.as_str()), "certificate.issued"),
    ] {
        audit::append(
            &mut tx,
            &db.audit,
            now,
            &audit::Event {
                org_id: org,
                actor: Some(&verifier.id),
                action,
                detail: serde_json::json!({
                    "order": order_id, "serial": serial, "method": check.method, "note": check.note,
                }),
            },
        )
        .await?;
    }
    let a = &order.applicant;
    let notice = Mail::CertificateIssued {
        family_name: &a.family_name,
        given_name: &a.given_name,
        order_id,
        common_name: &order.common_name,
        country: &a.country,
        prefecture: &a.prefecture,
        city: &a.city,
        street: &a.street_address(),
        postal_code: &a.postal_code,
        organisation: &a.organisation,
        department: &a.department,
        expires_at: record.not_after as i64,
        serial: &serial,
    };
    let to = Addressee {
        org_id: &order.org_id,
        address: &a.email,
        lang: mail::language_of(&mut tx, &order.user_id).await?,
        company: Company::Named(&a.organisation),
    };
    mail::send(&mut tx, now, &to, &notice).await?;
    // Black-box tests kill the process here: issued and recorded, not yet committed.
    crate::testing::hold("approve").await;
    tx.commit().await?;
    Ok(CertificateView {
        serial,
        order_id: order_id.to_owned(),
        subject: record.subject,
        not_before: record.not_before as i64,
        not_after: record.not_after as i64,
        status: CertStatus::Active,
        cert_pem: pem,
    })
}

/// Rejects the application with a reason; the charge is refunded in the ledger.
pub async fn reject(
    db: &Db,
    now: i64,
    verifier: &User,
    order_id: &str,
    check: &Check,
    reason: &str,
) -> Result<(), Failure> {
    let mut errors = Vec::new();
    let reason = text(&mut errors, "reason", reason, 1000, true);
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let mut tx = db.begin().await?;
    let order = claim(&mut tx, order_id, OrderStatus::Rejected).await?;
    sqlx::query(
        "UPDATE certificate_applications SET checked_by = $2, checked_at = $3, check_method = $4, \
         check_note = $5, reject_reason = $6 WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(&verifier.id)
    .bind(now)
    .bind(&check.method)
    .bind(&check.note)
    .bind(&reason)
    .execute(&mut *tx)
    .await?;
    let (price, tax) = (-order.price_jpy, -order.tax_jpy);
    book(
        &mut tx,
        now,
        &order.org_id,
        order_id,
        ChargeKind::Refund,
        price,
        tax,
    )
    .await?;
    for (org, action) in [
        (None, "identity_check.rejected"),
        (Some(order.org_id.as_str()), "certificate.rejected"),
    ] {
        audit::append(
            &mut tx,
            &db.audit,
            now,
            &audit::Event {
                org_id: org,
                actor: Some(&verifier.id),
                action,
                detail: serde_json::json!({ "order": order_id, "reason": reason, "method": check.method }),
            },
        )
        .await?;
    }
    let a = &order.applicant;
    let notice = Mail::CertificateRejected {
        family_name: &a.family_name,
        given_name: &a.given_name,
        order_id,
        reason: &reason,
    };
    let to = Addressee {
        org_id: &order.org_id,
        address: &a.email,
        lang: mail::language_of(&mut tx, &order.user_id).await?,
        company: Company::Named(&a.organisation),
    };
    mail::send(&mut tx, now, &to, &notice).await?;
    tx.commit().await?;
    Ok(())
}

/// The moment renewal opens, and the reminder is due: three calendar months before expiry
/// (in Japan time).
pub fn renewal_from(not_after: i64) -> i64 {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9");
    chrono::DateTime::from_timestamp(not_after, 0)
        .map(|t| t.with_timezone(&jst))
        .and_then(|t| t.checked_sub_months(chrono::Months::new(3)))
        .map_or(not_after - 92 * 86400, |t| t.timestamp())
}

/// The user's active certificate `serial` and the application it was issued from.
async fn active_certificate(db: &Db, user: &User, serial: &str) -> Result<(i64, Order), Failure> {
    let columns = ORDER_COLUMNS
        .split(", ")
        .map(|col| format!("a.{}", col.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!(
        "SELECT c.not_after, {columns} FROM certificates c JOIN certificate_applications a \
         ON a.order_id = c.order_id WHERE c.serial = $1 AND c.user_id = $2 AND c.status = $3"
    ))
    .bind(serial)
    .bind(&user.id)
    .bind(CertStatus::Active.as_str())
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok((row.try_get("not_after")?, Order::from_row(&row)?))
}

/// The applicant data of the order certificate `serial` was issued from.
pub(crate) async fn applicant_of(
    conn: &mut AnyConnection,
    serial: &str,
) -> Result<Applicant, Failure> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM certificate_applications WHERE order_id = \
         (SELECT order_id FROM certificates WHERE serial = $1)"
    ))
    .bind(serial)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Failure::NotFound)?;
    Ok(Order::from_row(&row)?.applicant)
}

/// What a renewal of `serial` would order (its confirmation shows it before anything is
/// ordered): the certificate's applicant data, once renewal has opened (three months before its
/// expiry).
pub async fn renewal_of(
    db: &Db,
    now: i64,
    acting: &Acting,
    serial: &str,
) -> Result<Applicant, Failure> {
    let (not_after, order) = active_certificate(db, acting.user(), serial).await?;
    if now < renewal_from(not_after) {
        return Err(Failure::BadRequest("error.renewal_not_yet"));
    }
    Ok(order.applicant)
}

/// 「更新する」 confirmed: orders a renewal of `serial` with the same data ([`renewal_of`]). A
/// new order and a new charge; the identity check follows as for a first order.
pub async fn renew(
    db: &Db,
    now: i64,
    acting: &Acting,
    serial: &str,
    idempotency_key: &str,
) -> Result<(Order, bool), Failure> {
    let applicant = renewal_of(db, now, acting, serial).await?;
    place_order(
        db,
        now,
        acting,
        &applicant,
        idempotency_key,
        &OrderKind::Renewal(serial.to_owned()),
    )
    .await
}

/// 「変更する」: orders a re-issue of `serial` with changed data; on issuance the old
/// certificate is revoked (superseded).
pub async fn change(
    db: &Db,
    now: i64,
    acting: &Acting,
    serial: &str,
    applicant: &Applicant,
    idempotency_key: &str,
) -> Result<(Order, bool), Failure> {
    let user = acting.user();
    active_certificate(db, user, serial).await?;
    place_order(
        db,
        now,
        acting,
        applicant,
        idempotency_key,
        &OrderKind::Change(serial.to_owned()),
    )
    .await
}

/// Sends each due 「電子証明書更新のお知らせ」 exactly once: the certificate's
/// `renewal_notice_sent_at` is claimed by a conditional update in the transaction that queues
/// the email, so several processes (or a restart) never send it twice, and a notice missed
/// while no process ran goes out at the next run. Returns how many were sent.
pub async fn send_renewal_notices(db: &Db, now: i64) -> Result<usize, Failure> {
    let rows = sqlx::query(
        "SELECT c.serial, c.org_id, c.not_after, a.family_name, a.given_name, a.organisation, \
         a.email, a.common_name, u.language FROM certificates c JOIN certificate_applications a \
         ON a.order_id = c.order_id LEFT JOIN users u ON u.id = c.user_id \
         WHERE c.status = $3 AND c.renewal_notice_sent_at IS NULL \
         AND c.not_after > $1 AND c.not_after <= $2",
    )
    .bind(now)
    .bind(now + 93 * 86400)
    .bind(CertStatus::Active.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut sent = 0;
    for r in &rows {
        let not_after: i64 = r.try_get("not_after")?;
        let from = renewal_from(not_after);
        if now < from {
            continue;
        }
        let serial: String = r.try_get("serial")?;
        let org_id: String = r.try_get("org_id")?;
        let mut tx = db.begin().await?;
        let claimed = sqlx::query(
            "UPDATE certificates SET renewal_notice_sent_at = $2 \
             WHERE serial = $1 AND renewal_notice_sent_at IS NULL",
        )
        .bind(&serial)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            continue;
        }
        let text = |column: &str| r.try_get::<String, _>(column);
        let organisation = text("organisation")?;
        let notice = Mail::CertificateRenewal {
            organisation: &organisation,
            price_jpy: PRICE_JPY,
            family_name: &text("family_name")?,
            given_name: &text("given_name")?,
            common_name: &text("common_name")?,
            expires_at: not_after,
            renewal_opens_at: from,
        };
        // The application's address, in the language of the user it belongs to.
        let lang: Option<String> = r.try_get("language")?;
        let to = Addressee {
            org_id: &org_id,
            address: &text("email")?,
            lang: lang.as_deref().and_then(Lang::parse).unwrap_or_default(),
            company: Company::Named(&organisation),
        };
        mail::send(&mut tx, now, &to, &notice).await?;
        audit::append(
            &mut tx,
            &db.audit,
            now,
            &audit::Event {
                org_id: Some(&org_id),
                actor: Some("system"),
                action: "certificate.renewal_notice",
                detail: serde_json::json!({ "serial": serial, "not_after": not_after }),
            },
        )
        .await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}

stored_text! {
    /// What a line of the billing ledger is: `billing_ledger.kind`.
    pub enum ChargeKind("billing ledger kind") {
        /// The order's price, booked when it is placed.
        Charge = "charge",
        /// The charge given back when the application is rejected.
        Refund = "refund",
    }
}

/// Books a line of the ledger, in the caller's transaction (one of each kind per order).
async fn book(
    conn: &mut AnyConnection,
    now: i64,
    org_id: &str,
    order_id: &str,
    kind: ChargeKind,
    amount_jpy: i64,
    tax_jpy: i64,
) -> Result<(), Failure> {
    sqlx::query(
        "INSERT INTO billing_ledger (id, org_id, order_id, kind, amount_jpy, tax_jpy, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id()?)
    .bind(org_id)
    .bind(order_id)
    .bind(kind.as_str())
    .bind(amount_jpy)
    .bind(tax_jpy)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One line of the billing ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Charge {
    pub order_id: String,
    /// `charge` or `refund`.
    pub kind: ChargeKind,
    pub amount_jpy: i64,
    pub tax_jpy: i64,
    pub created_at: i64,
    pub common_name: String,
}

/// The organisation's ledger, oldest first.
pub async fn ledger(db: &Db, org_id: &str) -> Result<Vec<Charge>, Failure> {
    let rows = sqlx::query(
        "SELECT b.order_id, b.kind, b.amount_jpy, b.tax_jpy, b.created_at, a.common_name \
         FROM billing_ledger b JOIN certificate_applications a ON a.order_id = b.order_id \
         WHERE b.org_id = $1 ORDER BY b.created_at, b.order_id, b.kind",
    )
    .bind(org_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Charge {
                order_id: r.try_get("order_id")?,
                kind: stored(r, "kind", ChargeKind::parse)?,
                amount_jpy: r.try_get("amount_jpy")?,
                tax_jpy: r.try_get("tax_jpy")?,
                created_at: r.try_get("created_at")?,
                common_name: r.try_get("common_name")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The ledger as CSV (RFC 4180, UTF-8 with a BOM so spreadsheet programs read the Japanese).
pub fn ledger_csv(organisation: &str, charges: &[Charge]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut out = String::from(
        "\u{feff}order_id,organisation,kind,amount_jpy,tax_jpy,total_jpy,date,common_name\r\n",
    );
    for c in charges {
        let date = crate::clock::jst(c.created_at);
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            field(&c.order_id),
            field(organisation),
            c.kind,
            c.amount_jpy,
            c.tax_jpy,
            c.amount_jpy + c.tax_jpy,
            field(&date),
            field(&c.common_name),
        ));
    }
    out
}

/// PEM "CERTIFICATE" text, 64 columns (RFC 7468).
fn pem_rfc7468_encode(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ApplicantForm {
        ApplicantForm {
            organisation: "株式会社印鑑".into(),
            postal_code: "1000001".into(),
            country: "jp".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            street: "千代田1-1".into(),
            building: "".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_name_romaji: "Yamada".into(),
            given_name_romaji: "Taro".into(),
            department: "法務部".into(),
            phone: "03-1234-5678".into(),
            email: "taro@example.jp".into(),
        }
    }

    #[test]
    fn a_complete_form_is_normalised() {
        let a = form().check().expect("valid");
        assert_eq!(a.postal_code, "100-0001");
        assert_eq!(a.country, "JP");
        assert_eq!(a.common_name(), "Yamada Taro");
        assert_eq!(a.street_address(), "千代田1-1");
    }

    #[test]
    fn what_the_ca_would_refuse_is_refused_before_it_is_ordered() {
        // Each part within the form's limits, but street and building together over the
        // CA's 128 characters for streetAddress.
        let mut long = form();
        long.street = "あ".repeat(100);
        long.building = "い".repeat(60);
        let Err(Failure::Invalid(errors)) = long.check() else {
            panic!("accepted an address the CA refuses");
        };
        assert_eq!(
            errors,
            vec![FieldError::new("building", "error.ca_refuses")]
        );
        // An emptied country is refused, not read as Japan.
        let mut no_country = form();
        no_country.country = " ".into();
        let Err(Failure::Invalid(errors)) = no_country.check() else {
            panic!("accepted no country");
        };
        assert_eq!(errors, vec![FieldError::new("country", "error.required")]);
    }

    #[test]
    fn every_required_field_missing_is_reported_at_once() {
        let Err(Failure::Invalid(errors)) = ApplicantForm::default().check() else {
            panic!("empty form accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        for f in [
            "organisation",
            "postal_code",
            "country",
            "prefecture",
            "city",
            "street",
            "family_name",
            "given_name",
            "family_name_romaji",
            "given_name_romaji",
            "department",
            "phone",
            "email",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(!fields.contains(&"building"), "building is optional");
    }

    #[test]
    fn postal_codes_need_seven_digits() {
        for good in ["1000001", "100-0001", "１００－０００１"] {
            assert_eq!(
                normalise_postal_code(good).as_deref(),
                Some("100-0001"),
                "{good}"
            );
        }
        for bad in ["100001", "10000011", "10-00001", "abc-defg", "100-00-01"] {
            assert_eq!(normalise_postal_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn romaji_is_latin_letters_spaces_and_hyphens() {
        for (value, ok) in [
            ("Yamada", true),
            ("Saito-Ito", true),
            ("Van  Dyke", true),
            ("山田", false),
            ("Yamadá", false),
            ("Yamada1", false),
            ("---", false),
        ] {
            let mut f = form();
            f.family_name_romaji = value.into();
            assert_eq!(f.check().is_ok(), ok, "{value}");
        }
    }

    #[test]
    fn only_the_47_prefectures() {
        let mut f = form();
        f.prefecture = "東京".into();
        let Err(Failure::Invalid(e)) = f.check() else {
            panic!("accepted")
        };
        assert_eq!(e, vec![FieldError::new("prefecture", "error.prefecture")]);
        assert_eq!(PREFECTURES.len(), 47);
    }

    #[test]
    fn every_status_and_kind_reads_back_from_its_stored_text() {
        for &s in CertStatus::ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Ok(s));
        }
        for &s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Ok(s));
        }
        for &k in ChargeKind::ALL {
            assert_eq!(ChargeKind::parse(k.as_str()), Ok(k));
        }
        for kind in [
            OrderKind::New,
            OrderKind::Renewal("0A".into()),
            OrderKind::Change("0B".into()),
            OrderKind::Reissue("0C".into()),
        ] {
            let stored = (kind.as_str(), kind.replaces().map(str::to_owned));
            assert_eq!(OrderKind::parse(stored.0, stored.1), Ok(kind));
        }
    }

    #[test]
    fn the_stored_texts_are_the_ones_the_database_and_the_api_hold() {
        let texts = |all: Vec<&'static str>| all.join(" ");
        assert_eq!(
            texts(CertStatus::ALL.iter().map(|s| s.as_str()).collect()),
            "active revoked superseded"
        );
        assert_eq!(
            texts(OrderStatus::ALL.iter().map(|s| s.as_str()).collect()),
            "awaiting_pin pending issuing issued rejected"
        );
        assert_eq!(
            texts(ChargeKind::ALL.iter().map(|k| k.as_str()).collect()),
            "charge refund"
        );
        assert_eq!(
            texts(KindName::ALL.iter().map(|k| k.as_str()).collect()),
            "new renewal change reissue"
        );
        // JSON (the API, the pages' templates) carries the same text.
        let json = serde_json::to_value((
            CertStatus::Superseded,
            OrderStatus::AwaitingPin,
            ChargeKind::Refund,
            OrderKind::Renewal("0A".into()),
        ))
        .expect("serialises");
        assert_eq!(
            json,
            serde_json::json!(["superseded", "awaiting_pin", "refund", "renewal"])
        );
    }

    #[test]
    fn an_unknown_stored_text_is_refused_with_what_it_should_have_been() {
        assert_eq!(
            CertStatus::parse("expired"),
            Err(UnknownText {
                what: "certificate status",
                text: "expired".into()
            })
        );
        for text in ["", "Active", "active ", "revoked\0"] {
            assert!(CertStatus::parse(text).is_err(), "{text:?}");
        }
        assert!(OrderStatus::parse("approved").is_err());
        assert!(OrderStatus::parse("Pending").is_err());
        assert!(ChargeKind::parse("credit").is_err());
        let e = OrderKind::parse("upgrade", Some("0A".into())).expect_err("unknown kind");
        assert_eq!(e.to_string(), "unknown order kind \"upgrade\"");
        // A kind and its replaced serial come together, or not at all.
        assert!(OrderKind::parse("renewal", None).is_err());
        assert!(OrderKind::parse("new", Some("0A".into())).is_err());
    }

    #[test]
    fn the_pages_have_a_text_for_every_status_and_kind() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(CertStatus::ALL.iter().map(|s| format!("cert.status.{s}")));
        keys.extend(OrderStatus::ALL.iter().map(|s| format!("cert.app.{s}")));
        keys.extend(ChargeKind::ALL.iter().map(|k| format!("billing.kind.{k}")));
        keys.extend(KindName::ALL.iter().map(|k| format!("cert.kind.{k}")));
        let missing: Vec<_> = keys.iter().filter(|k| !crate::i18n::known(k)).collect();
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }

    #[test]
    fn the_open_applications_are_pending_and_issuing() {
        let open: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&OrderStatus::Pending, &OrderStatus::Issuing]);
    }

    #[test]
    fn a_renewal_supersedes_and_a_change_or_reissue_revokes() {
        let s = || "0A".to_owned();
        assert_eq!(
            OrderKind::Renewal(s()).replaced_status(),
            CertStatus::Superseded
        );
        assert_eq!(
            OrderKind::Change(s()).replaced_status(),
            CertStatus::Revoked
        );
        assert_eq!(
            OrderKind::Reissue(s()).replaced_status(),
            CertStatus::Revoked
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = ledger_csv(
            "A, \"B\"",
            &[Charge {
                order_id: "INK202611250001".into(),
                kind: ChargeKind::Charge,
                amount_jpy: 8000,
                tax_jpy: 800,
                created_at: 0,
                common_name: "Yamada Taro".into(),
            }],
        );
        assert!(csv.contains("INK202611250001,\"A, \"\"B\"\"\",charge,8000,800,8800,1970-01-01 09:00,Yamada Taro\r\n"), "{csv}");
    }
}
