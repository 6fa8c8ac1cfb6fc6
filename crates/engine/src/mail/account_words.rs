//! The words of the mails about an account, an invitation and a password
//! reset, in English, Hindi and Marathi (English for any other language):
//! an invitation in its organisation's language, a reset in the language of
//! the organisations the account belongs to when they share one.

use ombud_core::Language;

/// `{tenant}`, `{role}`, `{link}`, `{expires}`, `{email}` and `{minutes}`
/// are filled.
pub struct AccountWords {
    pub invite_subject: &'static str,
    pub invite_text: &'static str,
    pub reset_subject: &'static str,
    pub reset_text: &'static str,
}

pub fn account_words(language: Option<&Language>) -> &'static AccountWords {
    match language.map(Language::as_str) {
        Some("hi") => &HI,
        Some("mr") => &MR,
        _ => &EN,
    }
}

/// `text` with each `{name}` of `values` filled.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |out, (name, value)| {
        out.replace(&format!("{{{name}}}"), value)
    })
}

const EN: AccountWords = AccountWords {
    invite_subject: "You are invited to {tenant} on Ombud",
    invite_text: "You are invited to join {tenant} on Ombud, as {role}.\n\n\
                  Open this link to accept, and choose your password:\n\n{link}\n\n\
                  The link works once, until {expires} (UTC).\n\
                  If you did not expect this, you can ignore this mail.\n",
    reset_subject: "Choose a new password for Ombud",
    reset_text: "Someone asked to choose a new password for the Ombud account of {email}.\n\n\
                 Open this link to choose one:\n\n{link}\n\n\
                 The link works once, for {minutes} minutes. Choosing a new password signs \
                 you out everywhere.\n\
                 If it was not you, you can ignore this mail: your password stays as it is.\n",
};

const HI: AccountWords = AccountWords {
    invite_subject: "आपको Ombud पर {tenant} में आमंत्रित किया गया है",
    invite_text: "आपको Ombud पर {tenant} में {role} के रूप में जुड़ने के लिए आमंत्रित किया गया है।\n\n\
                  स्वीकार करने और अपना पासवर्ड चुनने के लिए यह लिंक खोलें:\n\n{link}\n\n\
                  यह लिंक एक बार, {expires} (UTC) तक काम करता है।\n\
                  अगर आपको इसकी उम्मीद नहीं थी, तो इस मेल को अनदेखा कर सकते हैं।\n",
    reset_subject: "Ombud के लिए नया पासवर्ड चुनें",
    reset_text: "किसी ने Ombud पर {email} के खाते के लिए नया पासवर्ड चुनने का अनुरोध किया है।\n\n\
                 नया पासवर्ड चुनने के लिए यह लिंक खोलें:\n\n{link}\n\n\
                 यह लिंक एक बार, {minutes} मिनट तक काम करता है। नया पासवर्ड चुनने पर आप हर जगह \
                 से साइन आउट हो जाएँगे।\n\
                 अगर यह आप नहीं थे, तो इस मेल को अनदेखा करें: आपका पासवर्ड वैसा ही रहेगा।\n",
};

const MR: AccountWords = AccountWords {
    invite_subject: "तुम्हाला Ombud वर {tenant} मध्ये आमंत्रित केले आहे",
    invite_text: "तुम्हाला Ombud वर {tenant} मध्ये {role} म्हणून सामील होण्यासाठी आमंत्रित केले आहे.\n\n\
                  स्वीकारण्यासाठी आणि तुमचा पासवर्ड निवडण्यासाठी ही लिंक उघडा:\n\n{link}\n\n\
                  ही लिंक एकदाच, {expires} (UTC) पर्यंत चालते.\n\
                  तुम्हाला याची अपेक्षा नसेल, तर या मेलकडे दुर्लक्ष करा.\n",
    reset_subject: "Ombud साठी नवीन पासवर्ड निवडा",
    reset_text: "कोणीतरी Ombud वरील {email} या खात्यासाठी नवीन पासवर्ड निवडण्याची विनंती केली आहे.\n\n\
                 नवीन पासवर्ड निवडण्यासाठी ही लिंक उघडा:\n\n{link}\n\n\
                 ही लिंक एकदाच, {minutes} मिनिटांसाठी चालते. नवीन पासवर्ड निवडल्यावर तुम्ही सर्व \
                 ठिकाणांहून साइन आउट व्हाल.\n\
                 हे तुम्ही केले नसेल, तर या मेलकडे दुर्लक्ष करा: तुमचा पासवर्ड आहे तसाच राहील.\n",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_fills_every_name_and_other_languages_read_english() {
        for code in ["en", "hi", "mr"] {
            let w = account_words(Language::parse(code).ok().as_ref());
            let values = [
                ("tenant", "Pune"),
                ("role", "staff"),
                ("link", "https://x/app/invite/t"),
                ("expires", "2026-12-14 09:00"),
                ("email", "a@b.in"),
                ("minutes", "60"),
            ];
            for text in [
                w.invite_subject,
                w.invite_text,
                w.reset_subject,
                w.reset_text,
            ] {
                let filled = fill(text, &values);
                assert!(!filled.contains('{'), "{code}: {filled}");
            }
            assert!(fill(w.invite_text, &values).contains("https://x/app/invite/t"));
            assert!(fill(w.reset_text, &values).contains("60"));
        }
        let french = account_words(Language::parse("fr").ok().as_ref());
        assert_eq!(french.reset_subject, EN.reset_subject);
        assert_ne!(
            account_words(Language::parse("mr").ok().as_ref()).invite_subject,
            EN.invite_subject
        );
    }
}
