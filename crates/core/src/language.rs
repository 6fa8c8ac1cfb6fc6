use crate::ValidationError;

/// An ISO 639-1 language code (`en`, `hi`, `mr`), lowercase.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "language",
                format!("{s:?} is not a two-letter lowercase ISO 639-1 code such as \"en\""),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn en() -> Self {
        Self("en".into())
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Language {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}
