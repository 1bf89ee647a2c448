//! The standard `process_*` metrics (CPU, memory, file descriptors, threads, start time), read
//! from `/proc/self` at each scrape; unprefixed, under the names every Prometheus dashboard and
//! alert already uses. Where `/proc` is missing (not Linux), they are left out.

use procfs::process::{LimitValue, Process};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// What one scrape reads about this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub threads: i64,
    pub start_time_seconds: f64,
}

/// Reads this process's figures now.
pub fn sample() -> Option<Sample> {
    let me = Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second().max(1) as f64;
    let boot = procfs::boot_time_secs().ok()? as f64;
    let max_fds = me
        .limits()
        .ok()
        .and_then(|l| match l.max_open_files.soft_limit {
            LimitValue::Value(n) => Some(n),
            LimitValue::Unlimited => None,
        });
    Some(Sample {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: stat.rss * procfs::page_size(),
        virtual_bytes: stat.vsize,
        open_fds: me.fd_count().ok()? as u64,
        max_fds,
        threads: stat.num_threads,
        start_time_seconds: boot + stat.starttime as f64 / ticks,
    })
}

/// Registered in the unprefixed registry; see `Metrics::encode`.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(s) = sample() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let mut gauge = |name: &str, help: &str, value: f64| {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
        };
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            s.resident_bytes as f64,
        )?;
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            s.virtual_bytes as f64,
        )?;
        gauge(
            "process_open_fds",
            "Open file descriptors",
            s.open_fds as f64,
        )?;
        if let Some(max) = s.max_fds {
            gauge(
                "process_max_fds",
                "The most file descriptors the process may open",
                max as f64,
            )?;
        }
        gauge("process_threads", "OS threads", s.threads as f64)?;
        gauge(
            "process_start_time_seconds",
            "When the process started, in seconds since the Unix epoch",
            s.start_time_seconds,
        )
    }
}
