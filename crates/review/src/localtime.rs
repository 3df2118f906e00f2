//! The server's UTC offset at a moment (from `TZ` or /etc/localtime), so the list shows the
//! times on the doctor's clock. The C library knows the time zone rules; nothing else here does.

/// Seconds east of UTC at `unix` seconds; 0 when the C library cannot tell.
pub fn offset_seconds(unix: i64) -> i64 {
    let time = unix as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `localtime_r` is the thread-safe variant; it writes only into `tm`, which lives
    // for the whole call, and reads only `time`.
    let filled = unsafe { !libc::localtime_r(&time, tm.as_mut_ptr()).is_null() };
    if !filled {
        return 0;
    }
    // `c_long` is 32 bits on 32-bit targets, so the conversion is not always a no-op.
    #[allow(clippy::useless_conversion)]
    // SAFETY: `localtime_r` returned non-null, so it initialised `tm` (and it started zeroed).
    i64::from(unsafe { tm.assume_init() }.tm_gmtoff)
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_are_whole_quarter_hours_within_a_day() {
        let offset = super::offset_seconds(1_790_000_000);
        assert_eq!(offset % 900, 0);
        assert!(offset.abs() < 86_400);
    }
}
