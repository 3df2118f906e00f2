//! whisper.cpp's and ggml's log lines into `tracing`, without the lines that carry speech.
//!
//! At debug level whisper.cpp logs every decoded token: the words of the consultation. They
//! must never reach a log, whatever filter the process's subscriber has, so the hook that
//! forwards the library's lines drops them here, where they arrive, instead of relying on each
//! binary to filter them out. Errors, warnings and information (model loading, buffer sizes)
//! are forwarded under the target `whisper`.

use std::ffi::{CStr, c_char, c_void};
use std::sync::Once;

use whisper_rs_sys::ggml_log_level;

static INSTALL: Once = Once::new();

/// Routes whisper.cpp's and ggml's logs through [`forward`]; idempotent.
pub(crate) fn install() {
    // SAFETY: `forward` is a valid callback for the whole process and needs no user data.
    INSTALL.call_once(|| unsafe {
        whisper_rs_sys::whisper_log_set(Some(forward), std::ptr::null_mut());
        whisper_rs_sys::ggml_log_set(Some(forward), std::ptr::null_mut());
    });
}

unsafe extern "C" fn forward(level: ggml_log_level, text: *const c_char, _user_data: *mut c_void) {
    // Debug lines (decoded tokens), continuations of any line and unknown levels are dropped
    // before their text is even read.
    let level = match level {
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_ERROR => tracing::Level::ERROR,
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_WARN => tracing::Level::WARN,
        whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_INFO => tracing::Level::INFO,
        _ => return,
    };
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp and ggml pass a NUL-terminated string that lives for the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let text = text.trim();
    match level {
        tracing::Level::ERROR => tracing::error!(target: "whisper", "{text}"),
        tracing::Level::WARN => tracing::warn!(target: "whisper", "{text}"),
        _ => tracing::info!(target: "whisper", "{text}"),
    }
}
