//! SIGINT/SIGTERM → a cancelled [`CancellationToken`], the one stop signal every task watches.

use tokio_util::sync::CancellationToken;

/// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere) and cancels `token`; also returns if `token`
/// is cancelled some other way. Spawn it next to [`crate::run`].
pub async fn shutdown_on_signals(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; watching SIGINT only");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = token.cancelled() => return,
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
    }
    token.cancel();
}
