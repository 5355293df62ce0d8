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
