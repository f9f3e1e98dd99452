//! Small shared building blocks for the runtime, chan and sync (re-exported as
//! `runtime::__kit`; not a public API): one cache-line padding type.
//!
//! # Padding
//!
//! [`CachePadded`] is crossbeam-utils' type: it aligns (and pads) its contents to the cache
//! line *pair* on x86_64, aarch64 and powerpc64 (128 bytes: the adjacent-line prefetcher pulls
//! 64-byte lines in twos, so two words 64 bytes apart still false-share), 256 on s390x, 32 on
//! arm/mips/sparc/hexagon, 16 on m68k, 64 elsewhere. Every "alone on its cache line" in goro
//! uses it, so there is one answer to "how big is a line". The one place that still writes
//! `#[repr(align(128))]` by hand is `chan`'s array channel (`Padded` in `array.rs`), which
//! matches `CachePadded` on x86_64 and aarch64.

pub use crossbeam_utils::CachePadded;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn cache_padded_is_a_line_pair_on_x86_64() {
        assert_eq!(align_of::<CachePadded<u8>>(), 128);
        assert_eq!(size_of::<CachePadded<u8>>(), 128);
    }
}
