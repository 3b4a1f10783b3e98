//! The signer's application for a certificate ([`SignerApplication`]) and the validated values
//! it is made of ([`Country`], [`Email`]); turning it into the certificate subject. Every field
//! but the country is a UTF8String, so Japanese names and addresses are kept as written.

use const_oid::db::rfc4519;
use der::asn1::{PrintableStringRef, SetOfVec, Utf8StringRef};
use der::Any;
use serde::{Deserialize, Serialize};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::error::{CaError, Result};

/// An ISO 3166 two-letter country code such as `JP` (a PrintableString in the subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl Country {
    /// Parses two ASCII letters (case-insensitive): `jp` → `JP`.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Country(s.to_ascii_uppercase()))
        } else {
            Err(CaError::invalid(
                "country",
                format!("{s:?}: use a two-letter code such as JP"),
            ))
        }
    }

    /// The code, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Country {
    type Error = CaError;
    fn try_from(s: String) -> Result<Self> {
        Country::parse(&s)
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.0
    }
}

/// An e-mail address for the certificate's rfc822Name: ASCII (an IA5String), `local@domain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses `local@domain.example` (or `local@host`); internationalised addresses are refused because
    /// rfc822Name cannot carry them.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = |why: &str| CaError::invalid("email", format!("{s:?}: {why}"));
        if !s.is_ascii() {
            return Err(bad("only ASCII addresses fit in a certificate"));
        }
        if s.len() > 254 {
            return Err(bad("longer than 254 characters"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| bad("no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before @ must have 1-64 characters"));
        }
        if local
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b"()<>[]\\,;:\"@".contains(&b))
        {
            return Err(bad(
                "the part before @ has a character e-mail does not allow",
            ));
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        // One label (`localhost`) is a host name too, as in Inkan's account addresses.
        if !labels_ok {
            return Err(bad("the domain is not a host name like example.co.jp"));
        }
        Ok(Email(s.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = CaError;
    fn try_from(s: String) -> Result<Self> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// What a signer asks a certificate for. The subject is built in the order C, ST, L, street,
/// postalCode, O, OU, CN; empty optional fields are left out. The e-mail goes in the subject
/// alternative name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerApplication {
    pub country: Country,
    /// State or prefecture (都道府県).
    pub state_or_province: Option<String>,
    pub locality: Option<String>,
    pub street_address: Option<String>,
    pub postal_code: Option<String>,
    pub organisation: Option<String>,
    pub organisational_unit: Option<String>,
    /// The signer's name (romaji by convention; Japanese is accepted).
    pub common_name: String,
    pub email: Email,
}

/// X.520 upper bounds, in characters (RFC 5280 appendix A; street has none there, 128 here).
const LIMITS: [(&str, usize); 7] = [
    ("state or province", 128),
    ("locality", 128),
    ("street address", 128),
    ("postal code", 40),
    ("organisation", 64),
    ("organisational unit", 64),
    ("common name", 64),
];

/// PKCS#9 emailAddress.
const EMAIL_ADDRESS: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

impl SignerApplication {
    /// The certificate subject; fails naming the first field that is too long, blank where
    /// required, or holds control characters.
    pub fn subject(&self) -> Result<Name> {
        let optional = [
            (rfc4519::ST, &self.state_or_province),
            (rfc4519::L, &self.locality),
            (rfc4519::STREET, &self.street_address),
            (rfc4519::POSTAL_CODE, &self.postal_code),
            (rfc4519::O, &self.organisation),
            (rfc4519::OU, &self.organisational_unit),
        ];
        let mut b = NameBuilder::default();
        b.printable(rfc4519::C, self.country.as_str())?;
        for ((oid, value), (field, max)) in optional.iter().zip(LIMITS) {
            if let Some(v) = value {
                let v = check_text(field, v, max)?;
                if !v.is_empty() {
                    b.utf8(*oid, v)?;
                }
            }
        }
        let cn = check_text("common name", &self.common_name, 64)?;
        if cn.is_empty() {
            return Err(CaError::invalid("common name", "must not be empty"));
        }
        b.utf8(rfc4519::CN, cn)?;
        // The e-mail is in the subject too (emailAddress, IA5String), as S/MIME-style readers
        // show it from there; the subject alternative name carries it as rfc822Name.
        b.ia5(EMAIL_ADDRESS, self.email.as_str())?;
        Ok(b.finish())
    }
}

fn check_text<'a>(field: &'static str, v: &'a str, max: usize) -> Result<&'a str> {
    let v = v.trim();
    if v.chars().any(char::is_control) {
        return Err(CaError::invalid(field, "contains control characters"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(CaError::invalid(
            field,
            format!("{n} characters, at most {max}"),
        ));
    }
    Ok(v)
}

/// Builds a distinguished name one single-valued RDN at a time.
#[derive(Debug, Default)]
pub(crate) struct NameBuilder(Vec<RelativeDistinguishedName>);

impl NameBuilder {
    fn push(&mut self, oid: const_oid::ObjectIdentifier, value: Any) -> Result<()> {
        let mut set = SetOfVec::new();
        set.insert(AttributeTypeAndValue { oid, value })?;
        self.0.push(RelativeDistinguishedName(set));
        Ok(())
    }

    pub(crate) fn printable(&mut self, oid: const_oid::ObjectIdentifier, v: &str) -> Result<()> {
        let p = PrintableStringRef::new(v)
            .map_err(|_| CaError::invalid("name", format!("{v:?} is not printable ASCII")))?;
        self.push(oid, Any::encode_from(&p)?)
    }

    pub(crate) fn ia5(&mut self, oid: const_oid::ObjectIdentifier, v: &str) -> Result<()> {
        let s = der::asn1::Ia5StringRef::new(v)
            .map_err(|_| CaError::invalid("name", format!("{v:?} is not ASCII")))?;
        self.push(oid, Any::encode_from(&s)?)
    }

    pub(crate) fn utf8(&mut self, oid: const_oid::ObjectIdentifier, v: &str) -> Result<()> {
        self.push(oid, Any::encode_from(&Utf8StringRef::new(v)?)?)
    }

    pub(crate) fn finish(self) -> Name {
        RdnSequence(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    pub(crate) fn sample() -> SignerApplication {
        SignerApplication {
            country: Country::parse("jp").expect("country"),
            state_or_province: Some("東京都".into()),
            locality: Some("港区".into()),
            street_address: Some("芝公園4-2-8".into()),
            postal_code: Some("105-0011".into()),
            organisation: Some("印鑑株式会社".into()),
            organisational_unit: Some("法務部".into()),
            common_name: "Taro Yamada".into(),
            email: Email::parse("taro@example.co.jp").expect("email"),
        }
    }

    #[test]
    fn japanese_fields_are_utf8_and_country_is_printable() {
        let der = sample().subject().expect("subject").to_der().expect("der");
        let tokyo = "東京都".as_bytes();
        // UTF8String tag 0x0c, length, bytes.
        let mut want = vec![0x0c, tokyo.len() as u8];
        want.extend_from_slice(tokyo);
        assert!(der.windows(want.len()).any(|w| w == want.as_slice()));
        assert!(der.windows(4).any(|w| w == [0x13, 0x02, b'J', b'P']));
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        assert!(Country::parse("JPN").is_err());
        assert!(Country::parse("日本").is_err());
        for bad in [
            "no-at",
            "a@b..c",
            "a@",
            "山田@example.jp",
            "a b@example.jp",
            "a@-x.jp",
            "@example.jp",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        // A one-label host, as Inkan's first administrator has (admin@localhost).
        assert!(Email::parse("admin@localhost").is_ok());
        let mut a = sample();
        a.common_name = "x".repeat(65);
        assert!(matches!(
            a.subject(),
            Err(CaError::Invalid {
                field: "common name",
                ..
            })
        ));
        let mut a = sample();
        a.locality = Some("港区\n".into());
        assert!(a.subject().is_ok(), "surrounding whitespace is trimmed");
        a.locality = Some("港\u{7}区".into());
        assert!(matches!(
            a.subject(),
            Err(CaError::Invalid {
                field: "locality",
                ..
            })
        ));
    }
}
