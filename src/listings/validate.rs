//! The limits of a listing's fields and [`Check`], which validates them collecting every field
//! error, so a client sees every problem at once. Texts come back trimmed: that is what is
//! stored.

use crate::error::{AppError, FieldError, Result};
use crate::model::ListingStatus;

/// The kinds of property a listing may be.
pub const PROPERTY_TYPES: &[&str] = &["house", "apartment", "condo", "land"];
/// Highest price accepted, in cents: well above any real property and below 2^53, so the
/// number survives JavaScript clients.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000_000_000;
/// Photos per listing.
pub const MAX_PHOTOS: i64 = 50;
/// Highest explicit photo position.
pub const MAX_POSITION: i32 = 10_000;
/// Image types a photo may have.
pub const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
/// Longest search text (`q`), in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Collects field errors; [`Check::finish`] turns them into one 422.
#[derive(Default)]
pub struct Check(Vec<FieldError>);

impl Check {
    pub fn fail(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// A one-line text: trimmed, `min..=max` characters, no control characters.
    pub fn line<'a>(&mut self, field: &str, value: &'a str, min: usize, max: usize) -> &'a str {
        let v = value.trim();
        let n = v.chars().count();
        if n < min || n > max {
            if min > 0 {
                self.fail(field, &format!("must be {min} to {max} characters"));
            } else {
                self.fail(field, &format!("must be at most {max} characters"));
            }
        } else if v.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
        v
    }

    /// Free text: trimmed, at most `max` characters; line breaks and tabs allowed.
    pub fn text<'a>(&mut self, field: &str, value: &'a str, max: usize) -> &'a str {
        let v = value.trim();
        if v.chars().count() > max {
            self.fail(field, &format!("must be at most {max} characters"));
        } else if v
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.fail(field, "must not contain control characters");
        }
        v
    }

    pub fn price(&mut self, field: &str, cents: i64) {
        if !(0..=MAX_PRICE_CENTS).contains(&cents) {
            self.fail(
                field,
                &format!("must be between 0 and {MAX_PRICE_CENTS} (cents)"),
            );
        }
    }

    pub fn currency<'a>(&mut self, value: &'a str) -> &'a str {
        if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
            self.fail("currency", "must be an ISO 4217 code: 3 uppercase letters");
        }
        value
    }

    pub fn one_of<'a>(&mut self, field: &str, value: &'a str, allowed: &[&str]) -> &'a str {
        if !allowed.contains(&value) {
            self.fail(field, &format!("must be one of: {}", allowed.join(", ")));
        }
        value
    }

    /// A listing status; `None` (and a field error) when it is not one.
    pub fn status(&mut self, field: &str, value: &str) -> Option<ListingStatus> {
        let status = value.parse().ok();
        if status.is_none() {
            let all: Vec<&str> = ListingStatus::ALL.iter().map(|s| s.as_str()).collect();
            self.fail(field, &format!("must be one of: {}", all.join(", ")));
        }
        status
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_is_three_uppercase_letters() {
        let mut c = Check::default();
        c.currency("EUR");
        c.currency("MXN");
        assert!(c.0.is_empty());
        for bad in ["eur", "EURO", "E1R", "€", ""] {
            let mut c = Check::default();
            c.currency(bad);
            assert_eq!(c.0.len(), 1, "{bad}");
        }
    }

    #[test]
    fn a_status_is_one_of_the_listing_statuses() {
        let mut c = Check::default();
        assert_eq!(c.status("status", "sold"), Some(ListingStatus::Sold));
        assert!(c.0.is_empty());
        assert_eq!(c.status("status", "gone"), None);
        assert_eq!(
            c.0.first().map(|e| e.message.as_str()),
            Some("must be one of: active, pending, sold, inactive")
        );
    }
}
