//! The guest half of waPC: the host stores the operation and payload, calls
//! `__guest_call(op_len, payload_len)`; the guest fetches both with
//! `__guest_request`, answers with `__guest_response` (returns 1) or
//! `__guest_error` (returns 0). To read the cluster the guest calls
//! `__host_call`, then fetches the answer (`__host_response_len`,
//! `__host_response`) or the error (`__host_error_len`, `__host_error`).

#[link(wasm_import_module = "wapc")]
extern "C" {
    fn __guest_request(op_ptr: *mut u8, ptr: *mut u8);
    fn __guest_response(ptr: *const u8, len: usize);
    fn __guest_error(ptr: *const u8, len: usize);
    #[allow(clippy::too_many_arguments)] // waPC's signature
    fn __host_call(
        bd_ptr: *const u8,
        bd_len: usize,
        ns_ptr: *const u8,
        ns_len: usize,
        op_ptr: *const u8,
        op_len: usize,
        ptr: *const u8,
        len: usize,
    ) -> usize;
    fn __host_response_len() -> usize;
    fn __host_response(ptr: *mut u8);
    fn __host_error_len() -> usize;
    fn __host_error(ptr: *mut u8);
}

/// Operation names are short; the largest AdmissionReview the API server
/// sends is a few MiB (etcd caps objects at 1.5 MiB). Anything beyond these
/// is refused before it is allocated.
const MAX_OPERATION: usize = 256;
const MAX_PAYLOAD: usize = 64 << 20;
/// A cluster answer larger than this (a listing of tens of thousands of
/// objects) is not read: the rules that needed it are "not checked".
const MAX_ANSWER: usize = 64 << 20;

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

/// The cluster, through Kubewarden's host calls.
struct WapcCluster;

impl crate::Cluster for WapcCluster {
    fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let (binding, namespace) = ("kubewarden", "kubernetes");
        // SAFETY: the host reads each (pointer, length) pair during the call.
        let ok = unsafe {
            __host_call(
                binding.as_ptr(),
                binding.len(),
                namespace.as_ptr(),
                namespace.len(),
                operation.as_ptr(),
                operation.len(),
                payload.as_ptr(),
                payload.len(),
            )
        };
        // SAFETY: no pointers; the host reports the length of what it keeps.
        let len = unsafe {
            if ok == 1 {
                __host_response_len()
            } else {
                __host_error_len()
            }
        };
        let len = i32::try_from(len).unwrap_or(i32::MAX);
        let Some(mut buf) = buffer(len, MAX_ANSWER) else {
            return Err(format!(
                "the host's answer of {len} bytes is over the {MAX_ANSWER} bytes a policy reads"
            ));
        };
        // SAFETY: `buf` has exactly the length the host announced.
        unsafe {
            if ok == 1 {
                __host_response(buf.as_mut_ptr());
            } else {
                __host_error(buf.as_mut_ptr());
            }
        }
        if ok == 1 {
            Ok(buf)
        } else {
            Err(String::from_utf8_lossy(&buf).into_owned())
        }
    }
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
    let answer = crate::dispatch_with(&op, &payload, &mut WapcCluster);
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
