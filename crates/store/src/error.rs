use ombud_core::ValidationError;

/// What can go wrong in a store, independent of the backend. Unique-key violations
/// arrive as `Conflict` so the edge can answer 409, never 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict on {field}: {reason}")]
    Conflict { field: String, reason: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// For `map_err` where the caller knows which unique key a write can
/// violate: a conflict becomes one on `field`, with `reason`; any other error
/// stays as it is. Works for either backend's error.
pub(crate) fn conflict_on<E: Into<StoreError>>(
    field: &str,
    reason: impl Into<String>,
) -> impl FnOnce(E) -> StoreError + '_ {
    let reason = reason.into();
    move |e| match e.into() {
        StoreError::Conflict { .. } => StoreError::Conflict {
            field: field.into(),
            reason,
        },
        other => other,
    }
}

/// A foreign key pointing at nothing, the same on every backend (neither
/// says reliably which column it was).
pub(crate) fn missing_reference() -> StoreError {
    StoreError::Invalid(ValidationError::new(
        "reference",
        "refers to something that does not exist",
    ))
}
