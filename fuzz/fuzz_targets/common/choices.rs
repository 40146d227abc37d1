//! The answers a session target gives are chosen by a small xorshift generator seeded from the
//! input's first two octets, so libFuzzer explores answers and input together.

pub struct Choices(u64);

impl Choices {
    /// A generator for `seed`; `salt` keeps the state non-zero.
    pub fn new(seed: [u8; 2], salt: u64) -> Self {
        Self(u64::from(u16::from_le_bytes(seed)) | salt)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
