//! What the load test reads of the servers it loads, from /proc (Linux only).

/// The kernel's clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on
/// every Linux architecture the project runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// The summed resident memory of these processes.
pub fn rss_bytes(pids: &[u32]) -> Option<u64> {
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        total += kb * 1024;
    }
    Some(total)
}

/// The summed CPU time (user + system, every thread) these processes used so
/// far, in seconds; `None` if there are none or one cannot be read.
pub fn cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    let mut ticks = 0u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces; the fields
        // after it are utime (14th) and stime (15th) of the whole line.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let mut fields = after_name.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        ticks += utime + stime;
    }
    Some(ticks as f64 / TICKS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_cpu_are_read_for_this_process() {
        let me = [std::process::id()];
        let rss = rss_bytes(&me).unwrap();
        assert!(rss > 1024 * 1024, "{rss}");
        let before = cpu_seconds(&me).unwrap();
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let used = cpu_seconds(&me).unwrap() - before;
        assert!((0.1..5.0).contains(&used), "{used}");
        assert_eq!(cpu_seconds(&[]), None);
    }
}
