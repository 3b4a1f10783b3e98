//! The certificate's fixed texts in each language. Everything the caller passes in (roles,
//! event kinds, outcomes, times) arrives already in the certificate's language.

use crate::Language;

#[derive(Debug)]
pub(crate) struct Labels {
    pub(crate) lang: &'static str,
    pub(crate) title: &'static str,
    /// `{issuer}` is replaced by [`crate::Completion::issued_by`].
    pub(crate) intro: &'static str,
    pub(crate) issued_by: &'static str,
    pub(crate) issued_at: &'static str,
    pub(crate) contract: &'static str,
    pub(crate) contract_number: &'static str,
    pub(crate) contract_id: &'static str,
    pub(crate) subject: &'static str,
    pub(crate) organisation: &'static str,
    pub(crate) sender: &'static str,
    pub(crate) created_at: &'static str,
    pub(crate) sent_at: &'static str,
    pub(crate) completed_at: &'static str,
    pub(crate) documents: &'static str,
    pub(crate) document_name: &'static str,
    pub(crate) pages: &'static str,
    pub(crate) size: &'static str,
    pub(crate) bytes: &'static str,
    pub(crate) digests: &'static str,
    pub(crate) sha256_before: &'static str,
    pub(crate) sha256_after: &'static str,
    pub(crate) parties: &'static str,
    pub(crate) step: &'static str,
    pub(crate) role: &'static str,
    pub(crate) signature_kind: &'static str,
    pub(crate) party: &'static str,
    pub(crate) authentication: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) history: &'static str,
    pub(crate) at: &'static str,
    pub(crate) event: &'static str,
    pub(crate) actor: &'static str,
    pub(crate) address: &'static str,
    pub(crate) user_agent: &'static str,
    pub(crate) none: &'static str,
    /// `{n}` and `{m}`: this page's number and the number of pages.
    pub(crate) page: &'static str,
}

const JA: Labels = Labels {
    lang: "ja",
    title: "合意締結証明書",
    intro: "本書は、{issuer} の記録に基づき、下記の契約が締結されるまでの経過を記載したものです。",
    issued_by: "発行者",
    issued_at: "発行日時",
    contract: "契約",
    contract_number: "契約番号",
    contract_id: "契約ID",
    subject: "件名",
    organisation: "組織",
    sender: "送信者",
    created_at: "作成日時",
    sent_at: "送信日時",
    completed_at: "締結日時",
    documents: "文書",
    document_name: "文書名",
    pages: "ページ数",
    size: "サイズ",
    bytes: "バイト",
    digests: "SHA-256",
    sha256_before: "署名前 SHA-256",
    sha256_after: "署名後 SHA-256",
    parties: "当事者",
    step: "順番",
    role: "役割",
    signature_kind: "署名方法",
    party: "当事者",
    authentication: "認証方法",
    outcome: "結果",
    history: "履歴",
    at: "日時",
    event: "操作",
    actor: "操作者",
    address: "IPアドレス",
    user_agent: "ユーザーエージェント",
    none: "なし",
    page: "{n} / {m} ページ",
};

const EN: Labels = Labels {
    lang: "en",
    title: "Certificate of completion",
    intro: "This certificate sets out, from the records of {issuer}, how the contract below \
            was completed.",
    issued_by: "Issued by",
    issued_at: "Issued at",
    contract: "Contract",
    contract_number: "Contract number",
    contract_id: "Contract ID",
    subject: "Title",
    organisation: "Organisation",
    sender: "Sender",
    created_at: "Created",
    sent_at: "Sent",
    completed_at: "Completed",
    documents: "Documents",
    document_name: "Name",
    pages: "Pages",
    size: "Size",
    bytes: "bytes",
    digests: "SHA-256",
    sha256_before: "SHA-256 before the first signature",
    sha256_after: "SHA-256 after the last signature",
    parties: "Parties",
    step: "Step",
    role: "Role",
    signature_kind: "Signature",
    party: "Party",
    authentication: "Authentication",
    outcome: "Outcome",
    history: "History",
    at: "Time",
    event: "Event",
    actor: "Actor",
    address: "IP address",
    user_agent: "User agent",
    none: "None",
    page: "page {n} / {m}",
};

pub(crate) fn labels(language: Language) -> &'static Labels {
    match language {
        Language::Ja => &JA,
        Language::En => &EN,
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
