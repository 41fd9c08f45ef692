//! Reloading a read-only resource (the GeoIP databases) without a restart: a [`Reloadable`]
//! handle that readers load lock-free, and [`watch_files`], which polls the files and swaps in
//! a freshly loaded value when they change — keeping the old one if the new files are broken.

use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// A value that can be replaced while readers use it; cheap to clone, lock-free to read.
/// A reader holding an old value keeps it alive until done; the data path never blocks.
pub struct Reloadable<T> {
    inner: Arc<ArcSwap<T>>,
}

impl<T> Clone for Reloadable<T> {
    fn clone(&self) -> Self {
        Reloadable {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Reloadable<T> {
    /// A handle holding `value`.
    pub fn new(value: T) -> Self {
        Reloadable {
            inner: Arc::new(ArcSwap::from_pointee(value)),
        }
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        self.inner.load_full()
    }

    /// Runs `f` on the current value without touching its reference count (the hot path).
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.inner.load())
    }

    /// Replaces the value; readers see the new one from their next load.
    pub fn replace(&self, value: T) {
        self.inner.store(Arc::new(value));
    }
}

/// What [`watch_files`] watches.
#[derive(Clone, Debug)]
pub struct FileWatch {
    /// Name for logs and the `resource` label of `loginwatch_reloads_total`, e.g. `"geoip"`.
    pub resource: &'static str,
    /// Files whose change triggers a reload (modification time, size, inode).
    pub paths: Vec<PathBuf>,
    /// How often to look.
    pub interval: Duration,
}

/// What identifies one version of a file.
type Fingerprint = Option<(SystemTime, u64, u64)>;

fn fingerprint(paths: &[PathBuf]) -> Vec<Fingerprint> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            #[cfg(unix)]
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let ino = 0;
            Some((m.modified().ok()?, m.len(), ino))
        })
        .collect()
}

/// Polls `watch.paths` every `watch.interval` until `shutdown`; when any changed, runs `loader`
/// (on a blocking thread) and on success replaces `target`'s value. On failure it logs, counts
/// `loginwatch_reloads_total{result="error"}` and keeps serving the old value; the next change
/// of the files is tried again. The files' state is noted when this is called (not when the
/// future first runs), so call it right after loading the initial value, then spawn the future
/// on the caller's task tracker.
pub fn watch_files<T, E, F>(
    watch: FileWatch,
    target: Reloadable<T>,
    loader: F,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static
where
    T: Send + Sync + 'static,
    E: Display + Send + 'static,
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
{
    let seen = fingerprint(&watch.paths);
    watch_loop(watch, seen, target, Arc::new(loader), metrics, shutdown)
}

async fn watch_loop<T, E, F>(
    watch: FileWatch,
    mut seen: Vec<Fingerprint>,
    target: Reloadable<T>,
    loader: Arc<F>,
    metrics: Metrics,
    shutdown: CancellationToken,
) where
    T: Send + Sync + 'static,
    E: Display + Send + 'static,
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
{
    let resource = watch.resource;
    let ok = metrics.reloads.with_label_values(&[resource, "ok"]);
    let failed = metrics.reloads.with_label_values(&[resource, "error"]);
    let mut tick = tokio::time::interval(watch.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = fingerprint(&watch.paths);
        if now == seen {
            continue;
        }
        seen = now;
        let load = loader.clone();
        match tokio::task::spawn_blocking(move || load()).await {
            Ok(Ok(value)) => {
                target.replace(value);
                ok.inc();
                tracing::info!(resource, "reloaded");
            }
            Ok(Err(e)) => {
                failed.inc();
                tracing::warn!(resource, error = %e, "reload failed; keeping the previous version");
            }
            Err(e) => {
                failed.inc();
                tracing::error!(resource, error = %e, "reload panicked; keeping the previous version");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;

    #[test]
    fn readers_see_replacements() {
        let r = Reloadable::new(1);
        let old = r.get();
        r.clone().replace(2);
        assert_eq!(*old, 1);
        assert_eq!(r.with(|v| *v), 2);
    }

    #[tokio::test]
    async fn reloads_on_change_and_keeps_the_old_value_on_error() {
        let dir = std::env::temp_dir().join(format!("lw-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.txt");
        std::fs::write(&file, "1").unwrap();
        let registry = Registry::new();
        let metrics = Metrics::register(&registry).unwrap();
        let target = Reloadable::new(1u32);
        let path = file.clone();
        let loader = move || -> Result<u32, String> {
            let s = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            s.trim().parse().map_err(|_| format!("broken: {s:?}"))
        };
        let stop = CancellationToken::new();
        let watch = FileWatch {
            resource: "test",
            paths: vec![file.clone()],
            interval: Duration::from_millis(10),
        };
        let task = tokio::spawn(watch_files(
            watch,
            target.clone(),
            loader,
            metrics.clone(),
            stop.clone(),
        ));
        let wait_for = |want: u64, result: &'static str| {
            let c = metrics.reloads.with_label_values(&["test", result]);
            async move {
                for _ in 0..500 {
                    if c.get() >= want {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("no {result} reload");
            }
        };
        // Atomic replace, as geoipupdate does it.
        std::fs::write(dir.join("new"), "22").unwrap();
        std::fs::rename(dir.join("new"), &file).unwrap();
        wait_for(1, "ok").await;
        assert_eq!(*target.get(), 22);
        std::fs::write(dir.join("new"), "not a number").unwrap();
        std::fs::rename(dir.join("new"), &file).unwrap();
        wait_for(1, "error").await;
        assert_eq!(
            *target.get(),
            22,
            "the broken file must not replace the good one"
        );
        stop.cancel();
        task.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
