//! Recycled task cells: a per-thread free list per size class, so a pool in
//! steady state does no `malloc`/`free` per task.
//!
//! Cells up to [`MAX_SIZE`] bytes (aligned to at most [`ALIGN`]) are rounded
//! up to a multiple of [`CLASS`] and come from the allocating thread's list
//! for that size, or from the global allocator when it is empty. A freed
//! cell goes onto the freeing thread's list (any thread may free any cell:
//! the blocks of a class are interchangeable, and every block is allocated
//! with its class's layout). A thread keeps at most [`CAP_BYTES`] of free
//! cells; beyond that, and for larger cells, the global allocator is used.
//! A thread's lists are returned to the allocator when it exits.
//!
//! Why: measured on the 2-core VM, `malloc`/`free` of the cell were about
//! 430 of the 1188 instructions per task of `submit` + `into_result`
//! (callgrind), and glibc trimmed and faulted the heap back each batch.
//!
//! The cap is 16 MiB: a batch of 100k small tasks (80-byte cells; 96 when this was measured) in flight
//! at once fits (about 170k cells). With 4 MiB, 58% of such a batch's cells
//! went to `malloc`, and on two cores `submit` + `into_result` took 154 ns
//! per task against 80 ns with 16 MiB (`benches/thread_pool.rs`,
//! `submit_result_100k`): the spilled `malloc`s contended for glibc's arena
//! lock with the workers' `free` of the injector's blocks. The memory kept is
//! at most the cap per thread that frees cells (the threads that drop the
//! last handle), returned when the thread exits.
//!
//! Under loom and Miri the cache is off (plain allocation), so the models
//! and the UB checks see every allocation.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Size classes are multiples of this many bytes.
pub(crate) const CLASS: usize = 16;
/// Cells larger than this are not recycled.
pub(crate) const MAX_SIZE: usize = 512;
/// The largest alignment a recycled cell may need.
pub(crate) const ALIGN: usize = 16;
/// The most bytes of free cells one thread keeps.
pub(crate) const CAP_BYTES: usize = 16 << 20;
const CLASSES: usize = MAX_SIZE / CLASS;

/// Whether recycling is on in this build.
const ENABLED: bool = !cfg!(loom) && !cfg!(miri);

/// One thread's free lists: the head of each class's intrusive list (the
/// first word of a free block points at the next one).
struct Lists {
    heads: [Cell<*mut u8>; CLASSES],
    bytes: Cell<usize>,
}

impl Drop for Lists {
    fn drop(&mut self) {
        for (class, head) in self.heads.iter().enumerate() {
            let mut block = head.replace(ptr::null_mut());
            while !block.is_null() {
                // SAFETY: `block` is a free block of this list (pushed by
                // `free`), so its first word holds the next one; it was
                // allocated with `class_layout(class)`.
                unsafe {
                    let next = block.cast::<*mut u8>().read();
                    alloc::dealloc(block, class_layout(class));
                    block = next;
                }
            }
        }
    }
}

std::thread_local! {
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            bytes: Cell::new(0),
        }
    };
}

/// The class of `layout`, if it is recycled (inlined: a cell's layout is a
/// constant, so the class is too).
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    (ENABLED && layout.size() <= MAX_SIZE && layout.align() <= ALIGN && layout.size() > 0)
        .then(|| layout.size().div_ceil(CLASS) - 1)
}

/// The layout every block of `class` is allocated with.
#[inline]
fn class_layout(class: usize) -> Layout {
    // A multiple of 16 up to 512, aligned to 16: always valid.
    Layout::from_size_align((class + 1) * CLASS, ALIGN).expect("a valid class layout")
}

/// Memory for a value of `layout`: a recycled block if there is one.
#[inline]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        return global(layout);
    };
    let recycled = LISTS
        .try_with(|lists| {
            let head = lists.heads[class].get();
            if head.is_null() {
                return None;
            }
            // SAFETY: a free block's first word is the next free block
            // (`free` wrote it); blocks are at least 16 bytes, aligned.
            let next = unsafe { head.cast::<*mut u8>().read() };
            lists.heads[class].set(next);
            lists
                .bytes
                .set(lists.bytes.get() - class_layout(class).size());
            NonNull::new(head)
        })
        .ok()
        .flatten();
    recycled.unwrap_or_else(|| global(class_layout(class)))
}

/// Returns memory from [`allocate`] with the same `layout`.
///
/// # Safety
///
/// `block` came from `allocate(layout)` and is not used again.
#[inline]
pub(crate) unsafe fn free(block: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: allocated by `global(layout)`, per the caller's contract.
        unsafe { alloc::dealloc(block.as_ptr(), layout) };
        return;
    };
    let size = class_layout(class).size();
    let kept = LISTS
        .try_with(|lists| {
            if lists.bytes.get() + size > CAP_BYTES {
                return false;
            }
            // SAFETY: the block is ours now (the caller's contract), at least
            // 16 bytes and 16-aligned: its first word can hold the link.
            unsafe {
                block
                    .as_ptr()
                    .cast::<*mut u8>()
                    .write(lists.heads[class].get())
            };
            lists.heads[class].set(block.as_ptr());
            lists.bytes.set(lists.bytes.get() + size);
            true
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: recycled classes are allocated with `class_layout`.
        unsafe { alloc::dealloc(block.as_ptr(), class_layout(class)) };
    }
}

fn global(layout: Layout) -> NonNull<u8> {
    // SAFETY: cells are never zero-sized (they hold the header).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_freed_block_is_reused_by_its_class() {
        let layout = Layout::from_size_align(100, 8).unwrap();
        let a = allocate(layout);
        // SAFETY: from `allocate(layout)`, not used again.
        unsafe { free(a, layout) };
        let b = allocate(Layout::from_size_align(112, 16).unwrap());
        if ENABLED {
            assert_eq!(a, b, "same class (97..=112 bytes): the block comes back");
        }
        // SAFETY: as above.
        unsafe { free(b, Layout::from_size_align(112, 16).unwrap()) };
        let big = Layout::from_size_align(4096, 8).unwrap();
        let c = allocate(big);
        // SAFETY: as above.
        unsafe { free(c, big) };
    }

    #[test]
    fn blocks_freed_on_another_thread_are_fine() {
        struct Blocks(Vec<NonNull<u8>>);
        // SAFETY: plain memory blocks, owned by whoever holds the vector.
        unsafe impl Send for Blocks {}
        let layout = Layout::from_size_align(64, 8).unwrap();
        let blocks = Blocks((0..100).map(|_| allocate(layout)).collect());
        std::thread::spawn(move || {
            let blocks = blocks;
            for b in blocks.0 {
                // SAFETY: from `allocate(layout)`, moved here, not used again.
                unsafe { free(b, layout) };
            }
        })
        .join()
        .unwrap();
    }
}
