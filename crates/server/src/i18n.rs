//! The UI's two languages: Japanese (the default) and English. Every text a user reads, from
//! page labels to validation messages, is a key in [`TEXTS`] with both translations; the JSON
//! API reports a message's key as its `code` and the English text as its `message`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text for `key` in `lang`; an unknown key comes back as itself (and a unit test makes sure
/// every key the templates and the code use is known).
pub fn t(lang: Lang, key: &str) -> &str {
    match TEXTS.binary_search_by(|(k, _, _)| k.cmp(&key)) {
        Ok(i) => match lang {
            Lang::Ja => TEXTS[i].1,
            Lang::En => TEXTS[i].2,
        },
        Err(_) => key,
    }
}

/// Whether `key` has translations.
#[cfg(test)]
pub fn known(key: &str) -> bool {
    TEXTS.binary_search_by(|(k, _, _)| k.cmp(&key)).is_ok()
}

/// (key, Japanese, English), sorted by key.
pub static TEXTS: &[(&str, &str, &str)] = &[
    ("app.name", "Inkan 電子契約", "Inkan e-contracts"),
    ("audit.action", "操作", "Action"),
    ("audit.actor", "操作者", "Actor"),
    ("audit.at", "日時", "Time"),
    ("audit.chain_broken", "監査ログの改ざんを検出しました", "The audit log has been tampered with"),
    ("audit.chain_ok", "監査ログのハッシュチェーンは正常です", "The audit log's hash chain is intact"),
    ("audit.detail", "詳細", "Detail"),
    ("audit.title", "監査ログ", "Audit log"),
    ("billing.amount", "金額(税抜)", "Amount (excl. tax)"),
    ("billing.csv", "CSV をダウンロード", "Download CSV"),
    ("billing.kind", "種別", "Kind"),
    ("billing.kind.charge", "請求", "Charge"),
    ("billing.kind.refund", "返金", "Refund"),
    ("billing.none", "請求はまだありません", "No charges yet"),
    ("billing.title", "請求", "Billing"),
    ("cert.agent_reason", "取引士は簡易署名(立会人型)のみ行えるため、申請できません", "Transaction agents make simple signatures only and cannot apply"),
    ("cert.app.issued", "発行済み", "Issued"),
    ("cert.app.issuing", "発行処理中", "Being issued"),
    ("cert.app.pending", "本人確認待ち", "Waiting for the identity check"),
    ("cert.app.rejected", "お申込み不可", "Rejected"),
    ("cert.applications", "お申込み履歴", "Applications"),
    ("cert.apply", "申請する", "Apply"),
    ("cert.back", "修正する", "Edit"),
    ("cert.change", "変更する", "Change"),
    ("cert.common_name", "コモンネーム", "Common name"),
    ("cert.duplicate_warning", "お申込みは 1 回だけ行ってください。重複してお申込みいただいても証明書は 1 枚のみ発行され、二重に請求されることはありません", "Place the order once only. A repeated order issues no second certificate and is not charged twice"),
    ("cert.expiry", "有効期限", "Expires"),
    ("cert.f.building", "建物名", "Building"),
    ("cert.f.city", "市区町村", "City / ward"),
    ("cert.f.country", "国", "Country"),
    ("cert.f.department", "部署名・店舗名", "Department or store"),
    ("cert.f.email", "メールアドレス", "Email address"),
    ("cert.f.family_name", "姓", "Family name"),
    ("cert.f.family_name_romaji", "姓(ローマ字)", "Family name (romaji)"),
    ("cert.f.given_name", "名", "Given name"),
    ("cert.f.given_name_romaji", "名(ローマ字)", "Given name (romaji)"),
    ("cert.f.organisation", "組織名", "Organisation"),
    ("cert.f.phone", "電話番号", "Phone"),
    ("cert.f.postal_code", "郵便番号", "Postal code"),
    ("cert.f.prefecture", "都道府県", "Prefecture"),
    ("cert.f.street", "番地", "Street address"),
    ("cert.kind.change", "変更", "Change"),
    ("cert.kind.new", "新規", "New"),
    ("cert.kind.renewal", "更新", "Renewal"),
    ("cert.next", "次へ", "Next"),
    ("cert.none", "電子証明書はまだありません", "You have no certificate yet"),
    ("cert.order", "お申込み", "Place the order"),
    ("cert.order_id", "注文番号", "Order ID"),
    ("cert.ordered", "お申込みを受け付けました。本人確認のご連絡をお待ちください", "Your order has been placed; we will contact you for the identity check"),
    ("cert.price", "料金", "Price"),
    ("cert.price_value", "8,000 円 / 年(税抜)", "JPY 8,000 per year (tax excluded)"),
    ("cert.renew", "更新する", "Renew"),
    ("cert.renew_from", "更新手続き開始日", "Renewal opens"),
    ("cert.serial", "シリアル番号", "Serial number"),
    ("cert.status", "状態", "Status"),
    ("cert.status.active", "有効", "Valid"),
    ("cert.status.revoked", "失効", "Revoked"),
    ("cert.status.superseded", "更新済み", "Renewed"),
    ("cert.step1", "1. 証明書の種類", "1. Certificate type"),
    ("cert.step2", "2. 申請者情報", "2. Applicant"),
    ("cert.step3", "3. 確認", "3. Confirm"),
    ("cert.subject", "証明書の内容", "Subject"),
    ("cert.tax", "消費税", "Consumption tax"),
    ("cert.title", "電子証明書", "Signing certificate"),
    ("cert.total", "合計", "Total"),
    ("cert.type", "電子署名用証明書(当事者型・1 年)", "Signing certificate (own signature, 1 year)"),
    ("cert.type_hint", "PDF に本人の電子署名を行うための証明書です。Inkan の認証局が発行します", "A certificate to sign PDFs in your own name, issued by Inkan's certificate authority"),
    ("checks.applicant", "申請者", "Applicant"),
    ("checks.approve", "承認して発行する", "Approve and issue"),
    ("checks.approved", "承認し、電子証明書を発行しました", "Approved; the certificate has been issued"),
    ("checks.method", "確認方法", "Method"),
    ("checks.none", "本人確認待ちのお申込みはありません", "No applications are waiting"),
    ("checks.note", "メモ", "Note"),
    ("checks.organisation", "組織アカウント", "Organisation account"),
    ("checks.reason", "理由", "Reason"),
    ("checks.reject", "却下する", "Reject"),
    ("checks.rejected", "却下しました", "Rejected"),
    ("checks.title", "本人確認", "Identity checks"),
    ("common.back", "戻る", "Back"),
    ("common.cancel", "キャンセル", "Cancel"),
    ("common.required", "必須", "Required"),
    ("common.save", "保存する", "Save"),
    ("common.saved", "保存しました", "Saved"),
    ("error.agent_no_seals", "取引士は簡易署名(立会人型)のみ行うため、印影は登録できません", "Transaction agents make simple signatures only and register no seals"),
    ("error.agent_simple_only", "取引士は簡易署名(立会人型)のみ行えます。電子証明書は申請できません", "Transaction agents make simple signatures only and cannot apply for a certificate"),
    ("error.application_open", "申請中の電子証明書があります。本人確認の完了をお待ちください", "You already have an application waiting for the identity check"),
    ("error.bad_request", "リクエストの形式が正しくありません", "The request is malformed"),
    ("error.body_too_large", "リクエストが大きすぎます", "The request body is too large"),
    ("error.cannot_change_self", "自分自身の管理者権限の削除や無効化はできません。他の管理者に依頼してください", "You cannot remove your own administrator role or deactivate yourself; ask another administrator"),
    ("error.certificate_active", "有効な電子証明書があります。変更や更新は「変更する」「更新する」から行ってください", "You already have a valid certificate; use Change or Renew"),
    ("error.certificate_expired", "電子証明書の有効期限が切れているため署名できません。更新してください", "Your certificate has expired; renew it to sign"),
    ("error.certificate_pending", "電子証明書は本人確認待ちのため、まだ署名できません", "Your certificate is waiting for the identity check; you cannot sign yet"),
    ("error.certificate_revoked", "電子証明書が失効しているため署名できません", "Your certificate has been revoked; you cannot sign with it"),
    ("error.control_characters", "使用できない文字が含まれています", "Contains characters that are not allowed"),
    ("error.country", "国は 2 文字の国コード(JP など)で入力してください", "Use a two-letter country code such as JP"),
    ("error.csrf", "フォームの有効期限が切れました。もう一度お試しください", "The form has expired; please try again"),
    ("error.email_invalid", "メールアドレスの形式が正しくありません", "This is not a valid email address"),
    ("error.email_taken", "このメールアドレスは既に登録されています", "This email address is already registered"),
    ("error.forbidden", "この操作を行う権限がありません", "You are not allowed to do this"),
    ("error.idempotency_key", "申込みキーが正しくありません。画面を開き直してください", "The order key is missing or malformed; reload the page"),
    ("error.internal", "サーバーでエラーが発生しました。時間をおいて再度お試しください", "Something went wrong on the server; please try again later"),
    ("error.json", "JSON の形式が正しくありません", "The body is not valid JSON for this request"),
    ("error.json_content_type", "Content-Type は application/json にしてください", "Send the body as Content-Type: application/json"),
    ("error.level", "署名レベルは B-T、B-LT、B-LTA のいずれかです", "The level must be B-T, B-LT or B-LTA"),
    ("error.locked", "ログインの失敗が続いたため、一時的にロックされています。しばらくしてから再度お試しください", "Too many failed logins: locked for a while; please try again later"),
    ("error.login_failed", "メールアドレスまたはパスワードが正しくありません", "The email address or the password is wrong"),
    ("error.name_invalid", "名前は 1〜100 文字で入力してください", "A name must be 1 to 100 characters"),
    ("error.no_ca", "認証局が設定されていません(ca_dir)", "No certificate authority is configured (ca_dir)"),
    ("error.no_certificate", "電子証明書がありません。プロフィールから申請してください", "You have no certificate; apply for one from your profile"),
    ("error.not_found", "見つかりません", "Not found"),
    ("error.not_pending", "この申請は既に処理されています", "This application has already been decided"),
    ("error.org_name_invalid", "組織名は 1〜200 文字で入力してください", "An organisation name must be 1 to 200 characters"),
    ("error.org_name_taken", "この組織名は既に使われています", "This organisation name is already taken"),
    ("error.password_change_required", "続けるには新しいパスワードを設定してください", "Set a new password to continue"),
    ("error.password_mismatch", "確認用パスワードが一致しません", "The confirmation does not match the password"),
    ("error.password_same", "現在のパスワードとは異なるパスワードを設定してください", "Choose a password different from the current one"),
    ("error.password_weak", "パスワードは 8 文字以上で、英字と数字の両方を含めてください", "A password needs 8 or more characters, with both letters and digits"),
    ("error.password_wrong", "現在のパスワードが正しくありません", "The current password is wrong"),
    ("error.pdf", "この PDF には署名できません", "This PDF cannot be signed"),
    ("error.phone", "電話番号は 10〜15 桁の数字で入力してください(ハイフン可)", "A phone number has 10 to 15 digits (hyphens allowed)"),
    ("error.placement", "署名位置は「ページ,X,Y,幅,高さ」で指定してください", "The placement must be PAGE,X,Y,WIDTH,HEIGHT"),
    ("error.postal_code", "郵便番号は 7 桁の数字で入力してください(例: 100-0001)", "A postal code has 7 digits, e.g. 100-0001"),
    ("error.prefecture", "都道府県を選択してください", "Choose one of the 47 prefectures"),
    ("error.renewal_not_yet", "更新手続きは有効期限の 3 か月前から行えます", "Renewal opens three months before the expiry"),
    ("error.required", "入力してください", "This field is required"),
    ("error.reset_invalid", "このリンクは無効か、有効期限が切れています。もう一度お申し込みください", "This link is invalid or has expired; please ask for a new one"),
    ("error.roles_invalid", "権限の組み合わせが正しくありません(管理者・文書管理者・署名者・取引士、または 管理者+署名者 / 文書管理者+署名者)", "Not a valid role combination (administrator, document manager, signer, transaction agent, or administrator+signer / document manager+signer)"),
    ("error.romaji", "ローマ字(半角英字・スペース・ハイフン)で入力してください", "Use Latin letters, spaces and hyphens only"),
    ("error.seal_animated", "アニメーション GIF は印影として登録できません。静止画を選んでください", "Animated GIFs are not accepted as seals; choose a still image"),
    ("error.seal_bad_name", "ファイル名から印影の名前を決められません。印影の名前をファイル名にしてください(例: 山田.png)", "The file name gives the seal no name; name the file after the seal, e.g. 山田.png"),
    ("error.seal_corrupt", "画像が壊れているため読み込めません", "The image is damaged and could not be read"),
    ("error.seal_image", "この画像は印影として登録できません", "This image cannot be registered as a seal"),
    ("error.seal_limit", "印影は 3 件まで登録できます。追加するには、登録済みの印影を削除してください", "A signer can register at most 3 seals; delete one to add another"),
    ("error.seal_no_stamp", "画像に朱色の印影が見つかりません。紙に押した印影をスキャンまたは撮影した画像を選んでください", "No red stamp was found in the image; choose a scan or photo of a red seal on paper"),
    ("error.seal_not_an_image", "PNG・GIF・JPEG 形式の画像ではありません", "The file is not a PNG, GIF or JPEG image"),
    ("error.seal_too_large", "ファイルが大きすぎます。512 KB 以下の画像を選んでください", "The file is too large; choose an image of at most 512 KB"),
    ("error.seal_too_many_pixels", "画像の画素数が多すぎます(一辺 4096 ピクセル、合計 1600 万ピクセルまで)", "The image has too many pixels (at most 4096 on a side and 16 megapixels in all)"),
    ("error.seal_unknown", "選んだ印影が見つかりません", "The chosen seal was not found"),
    ("error.seal_unsupported_image", "この画像は対応していない方式で保存されているため読み込めません", "The image uses a feature that cannot be read"),
    ("error.too_long", "文字数が多すぎます", "Too long"),
    ("error.unauthenticated", "ログインしてください", "Please log in"),
    ("error.validation", "入力内容を確認してください", "Please check the highlighted fields"),
    ("home.title", "ホーム", "Home"),
    ("home.welcome", "ようこそ", "Welcome"),
    ("lang.switch", "English", "日本語"),
    ("login.email", "メールアドレス", "Email address"),
    ("login.forgot", "パスワードをお忘れの方", "Forgot your password?"),
    ("login.logged_out", "ログアウトしました", "You have logged out"),
    ("login.password", "パスワード", "Password"),
    ("login.submit", "ログイン", "Log in"),
    ("login.title", "ログイン", "Log in"),
    ("logout", "ログアウト", "Log out"),
    ("menu.audit", "監査ログ", "Audit log"),
    ("menu.billing", "請求", "Billing"),
    ("menu.checks", "本人確認", "Identity checks"),
    ("menu.home", "ホーム", "Home"),
    ("menu.organisations", "組織管理", "Organisations"),
    ("menu.settings", "設定", "Settings"),
    ("menu.sign", "署名する", "Sign a PDF"),
    ("menu.users", "ユーザー管理", "User management"),
    ("orgs.admin_email", "管理者のメールアドレス", "Administrator's email"),
    ("orgs.admin_name", "管理者の氏名", "Administrator's name"),
    ("orgs.created", "組織を作成し、管理者にアカウント発行のお知らせを送信しました", "Organisation created; the administrator has been sent the account email"),
    ("orgs.name", "組織名", "Organisation name"),
    ("orgs.new", "組織を作成", "Create an organisation"),
    ("orgs.title", "組織管理", "Organisations"),
    ("orgs.users", "ユーザー数", "Users"),
    ("password.change", "パスワードを変更する", "Change password"),
    ("password.changed", "パスワードを変更しました", "Your password has been changed"),
    ("password.confirm", "新しいパスワード(確認)", "New password (again)"),
    ("password.current", "現在のパスワード", "Current password"),
    ("password.forced", "初回ログインのため、新しいパスワードを設定してください", "This is your first login: please choose a new password"),
    ("password.new", "新しいパスワード", "New password"),
    ("password.rule", "8 文字以上、英字と数字を含めてください", "8 or more characters, with letters and digits"),
    ("password.title", "パスワード変更", "Change password"),
    ("profile.email", "メールアドレス", "Email address"),
    ("profile.language", "表示言語", "Language"),
    ("profile.name", "氏名", "Name"),
    ("profile.organisation", "組織", "Organisation"),
    ("profile.roles", "権限", "Roles"),
    ("profile.title", "プロフィール", "Profile"),
    ("reset.done", "パスワードを再設定しました。新しいパスワードでログインしてください", "Your password has been reset; please log in with the new one"),
    ("reset.intro", "登録済みのメールアドレスを入力してください。パスワード再設定用のリンクをお送りします", "Enter your registered email address and we will send you a link to reset your password"),
    ("reset.sent", "登録されているメールアドレスであれば、パスワード再設定用のリンクを送信しました", "If the address is registered, a reset link has been sent to it"),
    ("reset.set_title", "新しいパスワードの設定", "Set a new password"),
    ("reset.submit", "送信する", "Send"),
    ("reset.title", "パスワード再設定", "Reset password"),
    ("role.administrator", "管理者", "Administrator"),
    ("role.administrator+signer", "管理者+署名者", "Administrator + signer"),
    ("role.document_manager", "文書管理者", "Document manager"),
    ("role.document_manager+signer", "文書管理者+署名者", "Document manager + signer"),
    ("role.operator", "運営者", "Instance operator"),
    ("role.signer", "署名者", "Signer"),
    ("role.transaction_agent", "取引士", "Transaction agent"),
    ("seals.agent_reason", "取引士は簡易署名(立会人型)のみ行うため、印影は登録できません", "Transaction agents make simple signatures only and register no seals"),
    ("seals.cancel", "キャンセル", "Cancel"),
    ("seals.choose", "選択する", "Choose"),
    ("seals.count", "登録数", "Registered"),
    ("seals.default", "既定", "Default"),
    ("seals.default_set", "既定の印影を変更しました", "The default seal has been changed"),
    ("seals.delete", "削除", "Delete"),
    ("seals.delete_confirm", "次の印影を削除しますか?", "Delete this seal?"),
    ("seals.delete_yes", "削除する", "Delete"),
    ("seals.deleted", "印影を削除しました", "The seal has been deleted"),
    ("seals.discarded", "アップロードした画像を破棄しました", "The upload has been discarded"),
    ("seals.draft_hint", "保存するまで登録されません。1 時間以内に保存してください", "Nothing is registered until you save; save within an hour"),
    ("seals.draft_missing", "プレビュー中の画像が見つかりません(1 時間で期限切れになります)。もう一度選択してください", "The upload being previewed is gone (uploads expire after an hour); choose the file again"),
    ("seals.file", "印影の画像(PNG・GIF・JPEG、512 KB まで)", "Seal image (PNG, GIF or JPEG, up to 512 KB)"),
    ("seals.intro", "見える署名に押す印影を 3 件まで登録できます。紙に押した印影をスキャンまたは撮影した画像を選ぶと、Inkan が背景を透明にした画像を作ります", "Register up to 3 seals to stamp on visible signatures. Choose a scan or photo of your seal stamped on paper; Inkan makes a copy with a transparent background"),
    ("seals.make_default", "既定にする", "Make default"),
    ("seals.name", "印影の名前", "Seal name"),
    ("seals.none", "印影はまだ登録されていません。署名には既定の電子署名の印影が使われます", "No seals registered yet; signatures show the default 電子署名 seal"),
    ("seals.original", "元の画像", "Original"),
    ("seals.preview", "プレビュー", "Preview"),
    ("seals.save", "保存する", "Save"),
    ("seals.saved", "印影を保存しました", "The seal has been saved"),
    ("seals.title", "印影・署名画像", "Seal images"),
    ("seals.transparent", "透過画像(Inkan が作成)", "Transparent image (made by Inkan)"),
    ("seals.upload", "アップロード", "Upload"),
    ("sign.default_seal", "既定の電子署名の印影", "The default 電子署名 seal"),
    ("sign.file", "PDF ファイル", "PDF file"),
    ("sign.intro", "ご自身の電子証明書で PDF に電子署名(当事者型、タイムスタンプ・長期検証情報付き)を行い、署名済みのファイルをダウンロードします", "Sign a PDF with your own certificate (with a timestamp and long-term validation data) and download the signed file"),
    ("sign.level", "署名レベル", "Signature level"),
    ("sign.reason", "署名の理由", "Reason"),
    ("sign.seal", "印影", "Seal"),
    ("sign.seal_hint", "見える署名に押す印影です。プロフィールの「印影・署名画像」で登録できます", "Stamped on a visible signature; register seals under Seal images on your profile"),
    ("sign.submit", "署名してダウンロード", "Sign and download"),
    ("sign.title", "PDF に署名する", "Sign a PDF"),
    ("sign.visible", "署名の表示位置", "Visible signature position"),
    ("sign.visible_hint", "ページ,X,Y,幅,高さ(ポイント)。空欄にすると見えない署名になります", "PAGE,X,Y,WIDTH,HEIGHT in points; leave empty for an invisible signature"),
    ("users.activate", "有効にする", "Reactivate"),
    ("users.active", "状態", "Status"),
    ("users.created", "ユーザーを作成し、アカウント発行のお知らせを送信しました", "User created; the account email has been sent"),
    ("users.deactivate", "無効にする", "Deactivate"),
    ("users.details", "詳細", "Details"),
    ("users.email", "メールアドレス", "Email address"),
    ("users.generate", "仮パスワードを自動生成する", "Generate a temporary password"),
    ("users.inactive", "無効", "Deactivated"),
    ("users.is_active", "有効", "Active"),
    ("users.name", "氏名", "Name"),
    ("users.new", "ユーザーを追加", "Add a user"),
    ("users.password", "仮パスワード", "Temporary password"),
    ("users.password_confirm", "仮パスワード(確認)", "Temporary password (again)"),
    ("users.password_hint", "空欄の場合は自動生成します。どちらの場合もメールで本人に通知され、初回ログイン時に変更が必要です", "Leave empty to generate one. Either way it is emailed to the user, who must change it at the first login"),
    ("users.pending", "パスワード未設定", "Password not yet set"),
    ("users.role", "権限", "Role"),
    ("users.title", "ユーザー管理", "User management"),
    ("users.updated", "ユーザー情報を更新しました", "User updated"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_sorted_unique_and_translated() {
        for pair in TEXTS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (key, ja, en) in TEXTS {
            assert!(!ja.is_empty() && !en.is_empty(), "{key}");
        }
    }

    #[test]
    fn lookup_by_language() {
        assert_eq!(t(Lang::Ja, "login.title"), "ログイン");
        assert_eq!(t(Lang::En, "login.title"), "Log in");
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
    }
}
