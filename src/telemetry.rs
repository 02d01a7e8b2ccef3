//! Tracing set-up: pretty or JSON lines, filtered by `RUST_LOG`. Logs carry ids, routes,
//! statuses and timings; never secrets, tokens or message bodies.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogArgs, LogFormat};

pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_new(&args.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    let _ = match args.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
