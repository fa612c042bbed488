//! The guest half of waPC: the host stores the operation and payload, calls
//! `__guest_call(op_len, payload_len)`; the guest fetches both with
//! `__guest_request`, answers with `__guest_response` (returns 1) or
//! `__guest_error` (returns 0). Only these three imports are used.

#[link(wasm_import_module = "wapc")]
extern "C" {
    fn __guest_request(op_ptr: *mut u8, ptr: *mut u8);
    fn __guest_response(ptr: *const u8, len: usize);
    fn __guest_error(ptr: *const u8, len: usize);
}

/// Operation names are short; the largest AdmissionReview the API server
/// sends is a few MiB (etcd caps objects at 1.5 MiB). Anything beyond these
/// is refused before it is allocated.
const MAX_OPERATION: usize = 256;
const MAX_PAYLOAD: usize = 64 << 20;

/// A zeroed buffer, or None when the host announces a length out of bounds
/// (a hostile length must become a guest error, not an allocation trap).
fn buffer(len: i32, max: usize) -> Option<Vec<u8>> {
    let len = usize::try_from(len).ok().filter(|n| *n <= max)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    buf.resize(len, 0);
    Some(buf)
}

fn error(message: &str) -> i32 {
    // SAFETY: the host copies `len` bytes from `ptr` before returning.
    unsafe { __guest_error(message.as_ptr(), message.len()) };
    0
}

#[no_mangle]
pub extern "C" fn __guest_call(op_len: i32, payload_len: i32) -> i32 {
    let (Some(mut op), Some(mut payload)) = (
        buffer(op_len, MAX_OPERATION),
        buffer(payload_len, MAX_PAYLOAD),
    ) else {
        return error(&format!(
            "refused: operation of {op_len} bytes (at most {MAX_OPERATION}) or payload of \
             {payload_len} bytes (at most {MAX_PAYLOAD})"
        ));
    };
    // SAFETY: both buffers have exactly the lengths the host announced.
    unsafe { __guest_request(op.as_mut_ptr(), payload.as_mut_ptr()) };
    // the payload is not needed once answered; free it before the answer grows
    let answer = crate::dispatch(&op, &payload);
    drop(payload);
    match answer {
        Ok(bytes) => {
            // SAFETY: the host copies `len` bytes from `ptr` before returning.
            unsafe { __guest_response(bytes.as_ptr(), bytes.len()) };
            1
        }
        Err(message) => error(&message),
    }
}

/// Called once by the host after instantiation; nothing to set up.
#[no_mangle]
pub extern "C" fn wapc_init() {}
