// SPDX-License-Identifier: GPL-2.0

//! `read(2)` and `write(2)` of a virtual device: one copy between its
//! store and the user's buffer.

use super::Mux;
use crate::{
    kernel_ext::iov,
    range, //
};
use kernel::{
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*, //
};

/// Largest piece `read`/`write` copy per hold of a location semaphore.
const IO_CHUNK: usize = 2 << 20;

impl Mux {
    /// `read(2)` of `vdev` at `*pos`, advancing it: one copy from the store
    /// to the user's buffer.
    pub(crate) fn read(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while !iov.is_empty() {
            let (want, copied) = {
                let location = self.slots.shared(vdev);
                let store = match location.store() {
                    Some(store) => store,
                    None if done == 0 => return Err(ENODEV),
                    None => break,
                };
                let want = range::read_len(*pos, iov.len().min(IO_CHUNK), self.reserved_size())?;
                if want == 0 {
                    break;
                }
                match store.copy_to_iter(*pos as usize, want, iov) {
                    Ok(copied) => (want, copied),
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            };
            done += copied;
            *pos += copied as i64;
            if copied < want {
                // A page of the user's buffer is not mapped: fault it in now
                // that the semaphore is released.
                let rest = want - copied;
                if iov::fault_in_writeable(iov, rest) == rest {
                    return if done == 0 { Err(EFAULT) } else { Ok(done) };
                }
            }
        }
        Ok(done)
    }

    /// `write(2)` of `vdev` at `*pos`, advancing it: one copy from the
    /// user's buffer to the store, clamped to the reserved size before
    /// anything is taken from `iov`, so that `iov` gives up exactly the
    /// bytes written.
    pub(crate) fn write(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while !iov.is_empty() {
            let step = {
                let location = self.slots.shared(vdev);
                location.store().ok_or(ENODEV).and_then(|store| {
                    let want =
                        range::write_len(*pos, iov.len().min(IO_CHUNK), self.reserved_size())?;
                    Ok((want, store.copy_from_iter(*pos as usize, want, iov)?))
                })
            };
            let (want, copied) = match step {
                Ok(step) => step,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += copied;
            *pos += copied as i64;
            if copied < want {
                let rest = want - copied;
                if iov::fault_in_readable(iov, rest) == rest {
                    return if done == 0 { Err(EFAULT) } else { Ok(done) };
                }
            }
        }
        Ok(done)
    }
}
