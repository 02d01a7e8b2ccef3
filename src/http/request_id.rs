//! The request id: taken from a well-formed incoming `x-request-id` or made fresh, kept in a
//! task-local for the duration of the request (so error bodies and log lines can quote it)
//! and echoed in the response's `x-request-id`.

use uuid::Uuid;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, when called inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accept a client's id only if it is short and plain, else make one.
pub fn choose(incoming: Option<&str>) -> String {
    match incoming {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_string()
        }
        _ => Uuid::now_v7().simple().to_string(),
    }
}

/// Run a future with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_replaces_others() {
        assert_eq!(choose(Some("abc-123_X")), "abc-123_X");
        assert_eq!(choose(None).len(), 32);
        assert_ne!(choose(Some("bad id\n")), "bad id\n");
        assert_eq!(choose(Some(&"a".repeat(65))).len(), 32);
    }
}
