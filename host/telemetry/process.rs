//! The standard process metrics of Prometheus's client libraries, read from
//! `/proc/self` (Linux): CPU time, resident and virtual memory, open and
//! allowed file descriptors, and the start time. Where `/proc` is absent
//! nothing is rendered.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::exposition::family;

/// What `/proc/self` says of this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time_seconds: f64,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

impl Process {
    /// Reads this process's figures, if the system has `/proc`.
    pub fn read() -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let mut p = parse_stat(&stat, &boot, clock_ticks(), page_size())?;
        p.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        p.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| max_open_files(&l));
        Some(p)
    }

    /// These figures as metric families.
    fn encode(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        family(
            enc,
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds",
            &ConstCounter::new(self.cpu_seconds),
        )?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                self.resident_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                self.virtual_bytes as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                self.start_time_seconds,
            ),
        ] {
            family(enc, name, help, &ConstGauge::new(value))?;
        }
        for (name, help, value) in [
            (
                "process_open_fds",
                "Number of open file descriptors",
                self.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                self.max_fds,
            ),
        ] {
            if let Some(v) = value {
                family(enc, name, help, &ConstGauge::new(v))?;
            }
        }
        Ok(())
    }
}

/// This process's figures, read from `/proc/self` at each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match Process::read() {
            Some(p) => p.encode(&mut enc),
            None => Ok(()),
        }
    }
}

/// The clock ticks per second `/proc/self/stat` counts CPU time in.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
}

/// The figures in `/proc/self/stat` (`stat`), with the boot time from
/// `/proc/stat` (`boot`): fields 14–15 (user and system ticks), 22 (start,
/// ticks after boot), 23 (virtual bytes) and 24 (resident pages), counted
/// after the command name, which may itself hold spaces and parentheses.
fn parse_stat(stat: &str, boot: &str, ticks: f64, page: u64) -> Option<Process> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 (the state).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let boot_time = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    Some(Process {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_time_seconds: boot_time as f64 + field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page,
        open_fds: None,
        max_fds: None,
    })
}

/// The soft limit on open files in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stat_line_is_read_past_a_command_name_with_spaces() {
        let stat = "4242 (medic (worker) 1) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 50 0 0 20 0 8 0 1000 123456789 2048 18446744073709551615";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        let p = parse_stat(stat, boot, 100.0, 4096).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.start_time_seconds, 1_700_000_010.0);
        assert_eq!(p.virtual_bytes, 123_456_789);
        assert_eq!(p.resident_bytes, 2048 * 4096);
        assert!(parse_stat("garbage", boot, 100.0, 4096).is_none());
    }

    #[test]
    fn the_soft_limit_on_open_files_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max cpu time              unlimited            unlimited            seconds\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read_and_rendered() {
        let p = Process::read().expect("/proc/self on Linux");
        assert!(p.resident_bytes > 0 && p.start_time_seconds > 1.0e9);
        assert!(p.open_fds.is_some_and(|n| n >= 1));
        let out = crate::exposition::render(vec![Box::new(ProcessCollector)]);
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(out.contains(&format!("\n{name} ")), "{name} in {out}");
        }
    }
}
