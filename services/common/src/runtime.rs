//! The tokio runtime a service runs on, sized by `server.worker_threads`.

/// One worker thread runs every task on the thread that polls the I/O
/// driver: a call's hand-offs between the connection, the handler and an
/// upstream connection are then plain polls, not wake-ups of another thread
/// (on a loaded two-core host each wake-up costs tens of microseconds).
/// Zero means one worker per CPU core (tokio's default).
pub fn build(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    match worker_threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        threads => tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_is_a_current_thread_runtime_and_others_are_multi_threaded() {
        use tokio::runtime::RuntimeFlavor;
        assert_eq!(build(1).expect("runtime").handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        assert_eq!(build(0).expect("runtime").handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        let three = build(3).expect("runtime");
        assert_eq!(three.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(three.metrics().num_workers(), 3);
    }
}
