//! Fresh volume buffers backed by transparent huge pages.
//!
//! A new 256^3 f32 volume is 64 MB. With 4 KB pages, the first write to each page faults into
//! the kernel: 16 384 faults, about 13 ms on two cores, which is a third of a 40 ms op. With
//! 2 MB pages it is 32 faults. Linux gives huge pages to anonymous memory only when asked
//! (`transparent_hugepage` is `madvise` on most distributions), so every op that makes a new
//! volume-sized buffer asks, as numpy does for its arrays (`madvise(MADV_HUGEPAGE)` since
//! numpy 1.16). Elsewhere, or when the kernel says no, this does nothing.

/// Buffers smaller than this keep normal pages (a huge page would be mostly empty).
const MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back `buf` with huge pages. Call it on a fresh buffer (e.g. from
/// `Array3::zeros`, whose zeroed pages are not touched yet) before writing to it; it changes
/// nothing in the contents.
pub fn advise_huge_pages<T>(buf: &mut [T]) {
    let bytes = std::mem::size_of_val(buf);
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    advise(buf.as_mut_ptr().cast::<u8>(), bytes);
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise(start: *mut u8, bytes: usize) {
    const PAGE: usize = 4096;
    let first = (start as usize).next_multiple_of(PAGE);
    let end = (start as usize + bytes) / PAGE * PAGE;
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside the caller's buffer, which is mapped memory this process
    // owns; MADV_HUGEPAGE only changes how the kernel backs those pages, never their contents,
    // and a failure (an old kernel, THP disabled) is harmless, so its result is ignored.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

/// An `Array3` of `A::default()` (zero for numbers) in Fortran order, advised to use huge
/// pages (see the module docs). For numbers the allocation is zeroed by the kernel and not
/// touched here.
#[must_use]
pub fn new_array<A: Clone + Default>(shape: [usize; 3]) -> ndarray::Array3<A> {
    use ndarray::ShapeBuilder;
    let mut a = ndarray::Array3::from_elem(shape.f(), A::default());
    if let Some(s) = a.as_slice_memory_order_mut() {
        advise_huge_pages(s);
    }
    a
}

/// The memory budget: the largest volume buffer (in bytes) an op may make. Shapes, pads,
/// kernel sizes and output counts come from parameters and headers nobody vetted; each is
/// checked against this before anything is allocated, so a mistyped `1e9` is an error naming
/// its parameter, not an abort. 0 means "not set": [`budget`] then uses the machine's default.
static BUDGET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the memory budget for the process (`graphrun --max-memory`); 0 restores the default.
pub fn set_budget(bytes: u64) {
    BUDGET.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// The memory budget in bytes: what [`set_budget`] set, else half of the memory this process
/// may use (the smaller of physical memory and a cgroup limit, as on a cluster node or in a
/// container), else 8 GiB when neither can be read. Half, because a run holds an op's input
/// and output at once.
#[must_use]
pub fn budget() -> u64 {
    match BUDGET.load(std::sync::atomic::Ordering::Relaxed) {
        0 => default_budget(),
        set => set,
    }
}

fn default_budget() -> u64 {
    static DEFAULT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let physical = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024))
        });
        let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
        match (physical, cgroup) {
            (Some(p), Some(c)) => p.min(c) / 2,
            (Some(m), None) | (None, Some(m)) => m / 2,
            (None, None) => 8 << 30,
        }
    })
}

/// A buffer would exceed the memory budget (or its size does not even fit in 64 bits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} would need {}, over the memory budget of {} (raise it with --max-memory)", shape_text(dims), bytes_text(*bytes), bytes_text(Some(*budget)))]
pub struct OverBudget {
    pub dims: Vec<u64>,
    /// `None` when the size overflows 64 bits.
    pub bytes: Option<u64>,
    pub budget: u64,
}

fn shape_text(dims: &[u64]) -> String {
    let list: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("a buffer of shape [{}]", list.join(", "))
}

fn bytes_text(bytes: Option<u64>) -> String {
    match bytes {
        None => "more than 16 EiB".to_owned(),
        Some(b) if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        Some(b) => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
    }
}

/// Checks a buffer of `dims` elements of `element_bytes` each against the [`budget`]; returns
/// its size in bytes. Dimensions may come from float parameters cast to integers, so
/// saturated values (`usize::MAX`) and overflowing products are caught here too.
pub fn check_buffer(dims: &[usize], element_bytes: usize) -> Result<u64, OverBudget> {
    let dims64: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    let bytes = dims64.iter().try_fold(element_bytes as u64, |acc, &d| acc.checked_mul(d));
    let budget = budget();
    match bytes {
        Some(b) if b <= budget && usize::try_from(b).is_ok() => Ok(b),
        _ => Err(OverBudget { dims: dims64, bytes, budget }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_checks_products_without_overflow() {
        assert!(check_buffer(&[10, 10, 10], 4).is_ok());
        let e = check_buffer(&[usize::MAX, 2, 2], 4).expect_err("overflows");
        assert_eq!(e.bytes, None);
        assert!(e.to_string().contains("more than 16 EiB"), "{e}");
        let e = check_buffer(&[30000, 30000, 30000], 4).expect_err("over budget");
        assert_eq!(e.bytes, Some(108_000_000_000_000));
        assert!(e.to_string().contains("over the memory budget"), "{e}");
    }
}
