//! The one rule for what a user record holds once decoded, shared by `tail`'s readers and the
//! grep function so that both see the same records: usually the record itself, but a record that
//! decompresses to a KPL aggregate (`ktail put --aggregate --compress`, or any producer that
//! compresses whole aggregates) holds that aggregate's user records, each decoded in turn.

use bytes::Bytes;

use super::{Decoded, Decoder, Tally};
use crate::kpl;

impl Decoder {
    /// Decodes one user record (after KPL de-aggregation of the Kinesis record) and hands `each`
    /// every record it holds, with what that decoded to, counting each decoding into `tally`:
    ///
    /// - one call for most records: `data` and its [`Decoded`];
    /// - when `data` decompresses to a valid KPL aggregate, one call per user record of the
    ///   aggregate, in order, each decoded with the same options (an aggregate of zero records
    ///   makes no call, as the KCL yields nothing for it). Decompressed bytes that only look
    ///   like an aggregate (bad digest, bad protobuf) are one [`Decoded::Decompressed`] line.
    ///
    /// One level only: a record inside the aggregate that decompresses to an aggregate again is
    /// not opened (its decompressed bytes are its line), so nesting cannot multiply the work or
    /// the size cap.
    ///
    /// The `stored` bytes of each call are that record as stored: `data` itself, or the
    /// aggregate's user record (a slice of one copy of the decompressed aggregate). Given as a
    /// top-level user record they decode to the same lines, which is what the grep function
    /// forwards.
    pub fn decode_each(
        &mut self,
        data: &Bytes,
        tally: &mut Tally,
        mut each: impl FnMut(&Bytes, &Decoded<'_>),
    ) {
        let decoded = self.decode(data);
        tally.add(&decoded);
        let (codec, aggregate) = match &decoded {
            Decoded::Decompressed { codec, data: inner } if kpl::looks_aggregated(inner) => {
                (*codec, Bytes::copy_from_slice(inner))
            }
            _ => return each(data, &decoded),
        };
        let users = kpl::deaggregate(aggregate, "", None);
        if let [user] = users.as_slice()
            && user.sub_sequence.is_none()
        {
            // Not an aggregate after all: the decompressed bytes are the line.
            let decoded = Decoded::Decompressed {
                codec,
                data: &user.data,
            };
            return each(data, &decoded);
        }
        for user in &users {
            let decoded = self.decode(&user.data);
            tally.add(&decoded);
            each(&user.data, &decoded);
        }
    }
}
