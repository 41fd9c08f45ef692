//! Criterion: alert emission per kind — a detector's finding for one typical alerting login
//! built from fixed inputs and turned into an `Alert` by the engine's code
//! (`loginwatch_detect::bench`), then written as the native JSON line (or as OCSF). Detection
//! itself (windows, memory, the shared index) is not measured: what an alert costs to
//! describe and write.
//!
//! Per case (`impossible_travel` … `account_risk`; `shared_ip_farm`, each member's alert of a
//! farm of 15 found at once, which share one evidence as the engine's do, a new farm every
//! 15th alert; and `impossible_travel_raised` with the watch-country and new-account raises in
//! its evidence):
//! - `build`: finding → alert (summary, evidence, event ids, alert id);
//! - `write`: the alert → its JSON bytes (into a reused buffer);
//! - `build_write`: both, what one alert costs from the detector to the output;
//! - `build_ocsf`: built and written as an OCSF Detection Finding.
//!
//! With the binary's allocator (mimalloc), as `replay` and `run` allocate. `EMIT_CPU_TIME=1`
//! measures the thread's CPU time instead of wall time: on a shared machine, what emission
//! costs this thread whatever else runs (the figures in BENCHMARKS.md give both).
//!
//! `cargo bench -p loginwatch --bench emit`

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion};
use loginwatch_detect::bench::emit_cases;
use loginwatch_model::AlertFormat;
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cpu_time() -> bool {
    std::env::var_os("EMIT_CPU_TIME").is_some_and(|v| v == "1")
}

fn wall(c: &mut Criterion) {
    if !cpu_time() {
        emit(c);
    }
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    if cpu_time() {
        emit(c);
    }
}

fn emit<M: Measurement>(c: &mut Criterion<M>) {
    let mut out = Vec::with_capacity(4096);
    for mut case in emit_cases() {
        let mut g = c.benchmark_group(format!("emit/{}", case.name));
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("build", |b| b.iter(|| black_box(case.alert())));
        let alert = case.alert();
        g.bench_function("write", |b| {
            b.iter(|| {
                out.clear();
                AlertFormat::Loginwatch
                    .write(&mut out, black_box(&alert))
                    .expect("written");
                black_box(out.len())
            })
        });
        for (name, format) in [
            ("build_write", AlertFormat::Loginwatch),
            ("build_ocsf", AlertFormat::Ocsf),
        ] {
            g.bench_function(name, |b| {
                b.iter(|| {
                    out.clear();
                    let alert = case.alert();
                    format.write(&mut out, &alert).expect("written");
                    black_box(out.len())
                })
            });
        }
        g.finish();
    }
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpu;

fn thread_cpu_now() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill; the clock exists on Linux.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    assert!(ok, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

criterion_group!(benches, wall);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_main!(benches, cpu_benches);
