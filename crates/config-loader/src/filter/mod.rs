//! The disk filter language used by `storage.local[].find` and `storage.ceph[].find`.
