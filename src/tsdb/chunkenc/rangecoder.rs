//! An adaptive binary range coder (the LZMA construction: 12-bit, or for
//! sealed version 2 15-bit, probabilities, 32-bit range, carry propagation
//! through a cached byte)
//! and the integer model the sealed encoding codes its residuals with.
//!
//! Every decision is coded with a probability that adapts to the bits seen
//! so far, so a stream needs no tables up front: a series whose residuals
//! are mostly zero costs a few hundredths of a bit per sample.

/// Probabilities are stored as `PRECISE_ONE`ths that the next bit is 0.
/// Sealed version 1 codes with 12 bits of them (`COARSE_BITS`, as LZMA
/// does); version 2 with all 15, so that a nearly certain decision costs
/// 0.006 bits instead of 0.02–0.05 at slow adaptation.
const PRECISE_BITS: u32 = 15;
const PRECISE_ONE: u16 = 1 << PRECISE_BITS;
const COARSE_BITS: u32 = 12;
const COARSE_ONE: u16 = 1 << COARSE_BITS;
const COARSE_SCALE: u32 = PRECISE_BITS - COARSE_BITS;
/// The slowest adaptation (a window of about 2^5 = 32 bits).
const MAX_ADAPT_SHIFT: u32 = 5;
const TOP: u32 = 1 << 24;

/// A probability that the next bit is 0, starting at one half. It adapts
/// fast while it has seen few bits (by about 1/(n+2) after n bits, close to
/// counting) and then by 1/32, so short streams learn quickly and long
/// ones still follow changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probability {
    zero: u16,
    seen: u8,
}

impl Default for Probability {
    fn default() -> Self {
        Probability {
            zero: PRECISE_ONE / 2,
            seen: 0,
        }
    }
}

impl Probability {
    /// The probability of a 0 in `2^bits`ths, for a coder of that
    /// precision.
    #[inline]
    fn zero(&self, precise: bool) -> u32 {
        if precise {
            u32::from(self.zero)
        } else {
            u32::from(self.zero >> COARSE_SCALE)
        }
    }

    #[inline]
    fn update(&mut self, bit: bool, max_shift: u32, precise: bool) {
        let shift = (u32::from(self.seen) + 2).ilog2().min(max_shift);
        self.seen = self.seen.saturating_add(1);
        let (mut zero, one) = if precise {
            (self.zero, PRECISE_ONE)
        } else {
            (self.zero >> COARSE_SCALE, COARSE_ONE)
        };
        if bit {
            zero -= zero >> shift;
        } else {
            zero += (one - zero) >> shift;
        }
        self.zero = if precise { zero } else { zero << COARSE_SCALE };
    }
}

/// Encodes bits into bytes.
pub(crate) struct RangeEncoder {
    low: u64,
    range: u32,
    cache: u8,
    cache_size: u64,
    /// The first byte the construction emits is always 0 and is skipped.
    skipped_first_byte: bool,
    output: Vec<u8>,
    /// The slowest adaptation of every probability (see [`Probability`]).
    max_shift: u32,
    /// 15-bit probabilities (sealed version 2) rather than 12-bit ones.
    precise: bool,
}

impl RangeEncoder {
    /// A sealed version 1 encoder: 12-bit probabilities, adaptation by
    /// at most 1/32.
    pub(crate) fn new(output: Vec<u8>) -> Self {
        RangeEncoder {
            low: 0,
            range: u32::MAX,
            cache: 0,
            cache_size: 1,
            skipped_first_byte: false,
            output,
            max_shift: MAX_ADAPT_SHIFT,
            precise: false,
        }
    }

    /// A sealed version 2 encoder: 15-bit probabilities that settle on a
    /// window of about `2^max_shift` bits (slower adaptation suits long,
    /// stationary streams).
    pub(crate) fn precise(output: Vec<u8>, max_shift: u32) -> Self {
        RangeEncoder {
            max_shift,
            precise: true,
            ..Self::new(output)
        }
    }

    #[inline]
    fn emit(&mut self, byte: u8) {
        if self.skipped_first_byte {
            self.output.push(byte);
        } else {
            self.skipped_first_byte = true;
        }
    }

    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || (self.low >> 32) != 0 {
            let carry = (self.low >> 32) as u8;
            let mut pending = self.cache;
            loop {
                self.emit(pending.wrapping_add(carry));
                pending = 0xFF;
                self.cache_size -= 1;
                if self.cache_size == 0 {
                    break;
                }
            }
            self.cache = (self.low >> 24) as u8;
        }
        self.cache_size += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    #[inline]
    pub(crate) fn encode_bit(&mut self, probability: &mut Probability, bit: bool) {
        let bits = if self.precise {
            PRECISE_BITS
        } else {
            COARSE_BITS
        };
        let bound = (self.range >> bits) * probability.zero(self.precise);
        if bit {
            self.low += u64::from(bound);
            self.range -= bound;
        } else {
            self.range = bound;
        }
        probability.update(bit, self.max_shift, self.precise);
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Encodes the low `count` bits of `value`, highest first, each with
    /// probability one half.
    #[inline]
    pub(crate) fn encode_direct_bits(&mut self, value: u64, count: u32) {
        for shift in (0..count).rev() {
            self.range >>= 1;
            if (value >> shift) & 1 == 1 {
                self.low += u64::from(self.range);
            }
            while self.range < TOP {
                self.range <<= 8;
                self.shift_low();
            }
        }
    }

    /// Flushes the state and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        for _ in 0..5 {
            self.shift_low();
        }
        self.output
    }
}

/// Decodes bits produced by [`RangeEncoder`]. Reading past the end yields
/// zero bytes and is counted, so the caller can report truncation.
pub(crate) struct RangeDecoder<'a> {
    input: &'a [u8],
    position: usize,
    range: u32,
    code: u32,
    overrun_bytes: usize,
    max_shift: u32,
    precise: bool,
}

impl<'a> RangeDecoder<'a> {
    /// A decoder for [`RangeEncoder::new`].
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self::start(input, MAX_ADAPT_SHIFT, false)
    }

    /// A decoder for [`RangeEncoder::precise`].
    pub(crate) fn precise(input: &'a [u8], max_shift: u32) -> Self {
        Self::start(input, max_shift, true)
    }

    fn start(input: &'a [u8], max_shift: u32, precise: bool) -> Self {
        let mut decoder = RangeDecoder {
            input,
            position: 0,
            range: u32::MAX,
            code: 0,
            overrun_bytes: 0,
            max_shift,
            precise,
        };
        for _ in 0..4 {
            decoder.code = (decoder.code << 8) | u32::from(decoder.next_byte());
        }
        decoder
    }

    #[inline]
    fn next_byte(&mut self) -> u8 {
        match self.input.get(self.position) {
            Some(&byte) => {
                self.position += 1;
                byte
            }
            None => {
                self.overrun_bytes += 1;
                0
            }
        }
    }

    /// Whether decoding needed bytes past the end of the input (a valid
    /// stream ends exactly where its decoding does).
    pub(crate) fn overran(&self) -> bool {
        self.overrun_bytes > 0
    }

    #[inline]
    pub(crate) fn decode_bit(&mut self, probability: &mut Probability) -> bool {
        let bits = if self.precise {
            PRECISE_BITS
        } else {
            COARSE_BITS
        };
        let bound = (self.range >> bits) * probability.zero(self.precise);
        let bit = if self.code < bound {
            self.range = bound;
            false
        } else {
            self.code -= bound;
            self.range -= bound;
            true
        };
        probability.update(bit, self.max_shift, self.precise);
        while self.range < TOP {
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(self.next_byte());
        }
        bit
    }

    #[inline]
    pub(crate) fn decode_direct_bits(&mut self, count: u32) -> u64 {
        let mut value = 0u64;
        for _ in 0..count {
            self.range >>= 1;
            let bit = self.code >= self.range;
            if bit {
                self.code -= self.range;
            }
            value = (value << 1) | u64::from(bit);
            while self.range < TOP {
                self.range <<= 8;
                self.code = (self.code << 8) | u32::from(self.next_byte());
            }
        }
        value
    }
}

/// Codes a symbol of `BITS` bits with a binary tree of adaptive
/// probabilities (learns any distribution over `2^BITS` symbols).
#[derive(Debug, Clone)]
pub(crate) struct BitTree<const SIZE: usize> {
    probabilities: [Probability; SIZE],
}

impl<const SIZE: usize> Default for BitTree<SIZE> {
    fn default() -> Self {
        BitTree {
            probabilities: [Probability::default(); SIZE],
        }
    }
}

impl<const SIZE: usize> BitTree<SIZE> {
    const BITS: u32 = SIZE.trailing_zeros();

    #[inline]
    pub(crate) fn encode(&mut self, encoder: &mut RangeEncoder, symbol: u32) {
        let mut node = 1usize;
        for shift in (0..Self::BITS).rev() {
            let bit = (symbol >> shift) & 1 == 1;
            encoder.encode_bit(&mut self.probabilities[node], bit);
            node = (node << 1) | usize::from(bit);
        }
    }

    #[inline]
    pub(crate) fn decode(&mut self, decoder: &mut RangeDecoder<'_>) -> u32 {
        let mut node = 1usize;
        for _ in 0..Self::BITS {
            let bit = decoder.decode_bit(&mut self.probabilities[node]);
            node = (node << 1) | usize::from(bit);
        }
        (node - SIZE) as u32
    }
}

/// Bits below the leading one that are modelled; the rest are direct.
const MODELLED_MANTISSA_BITS: u32 = 3;
/// Codes below this go through one adaptive 16-symbol tree.
const SMALL_CODES: u64 = 15;

/// An adaptive model of unsigned integers. A value below 15 is one symbol
/// of a 16-leaf bit tree (15 is the escape); a larger one is coded as
/// `value - 15`: its bit length (1..=64) through a bit tree, the next
/// three bits below the leading one modelled per bit length, the remaining
/// low bits direct.
#[derive(Debug, Clone)]
pub(crate) struct IntegerModel {
    small: BitTree<16>,
    bit_length: BitTree<64>,
    mantissa: Box<[BitTree<8>; 65]>,
}

impl Default for IntegerModel {
    fn default() -> Self {
        IntegerModel {
            small: BitTree::default(),
            bit_length: BitTree::default(),
            mantissa: Box::new(std::array::from_fn(|_| BitTree::default())),
        }
    }
}

impl IntegerModel {
    pub(crate) fn encode(&mut self, encoder: &mut RangeEncoder, value: u64) {
        if value < SMALL_CODES {
            self.small.encode(encoder, value as u32);
            return;
        }
        self.small.encode(encoder, SMALL_CODES as u32);
        let large = value - SMALL_CODES;
        let bit_length = (64 - large.leading_zeros()).max(1);
        self.bit_length.encode(encoder, bit_length - 1);
        if bit_length == 1 {
            // 0 or 1: one direct bit.
            encoder.encode_direct_bits(large, 1);
            return;
        }
        let below_leading_one = bit_length - 1;
        let modelled = below_leading_one.min(MODELLED_MANTISSA_BITS);
        let direct = below_leading_one - modelled;
        if modelled > 0 {
            // Pad to three bits so every length shares one tree layout.
            let top_bits = ((large >> direct) & ((1 << modelled) - 1)) as u32;
            let tree = &mut self.mantissa[bit_length as usize];
            tree.encode(encoder, top_bits << (MODELLED_MANTISSA_BITS - modelled));
        }
        encoder.encode_direct_bits(large, direct);
    }

    pub(crate) fn decode(&mut self, decoder: &mut RangeDecoder<'_>) -> u64 {
        let small = u64::from(self.small.decode(decoder));
        if small < SMALL_CODES {
            return small;
        }
        let bit_length = self.bit_length.decode(decoder) + 1;
        if bit_length == 1 {
            return SMALL_CODES + decoder.decode_direct_bits(1);
        }
        let below_leading_one = bit_length - 1;
        let modelled = below_leading_one.min(MODELLED_MANTISSA_BITS);
        let direct = below_leading_one - modelled;
        let mut large = 1u64;
        if modelled > 0 {
            let tree = &mut self.mantissa[bit_length as usize];
            let padded = tree.decode(decoder);
            large = (large << modelled) | u64::from(padded >> (MODELLED_MANTISSA_BITS - modelled));
        }
        if direct > 0 {
            large = (large << direct) | decoder.decode_direct_bits(direct);
        }
        large.wrapping_add(SMALL_CODES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_through_the_model() {
        let mut values: Vec<u64> = vec![0, 1, 2, 3, 7, 8, 255, u64::MAX, u64::MAX - 1, 1 << 63];
        values.extend((0..2000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 64)));
        let mut encoder = RangeEncoder::new(Vec::new());
        let mut model = IntegerModel::default();
        for &value in &values {
            model.encode(&mut encoder, value);
        }
        encoder.encode_direct_bits(0xABCD, 16);
        let bytes = encoder.finish();
        let mut decoder = RangeDecoder::new(&bytes);
        let mut model = IntegerModel::default();
        for &value in &values {
            assert_eq!(model.decode(&mut decoder), value);
        }
        assert_eq!(decoder.decode_direct_bits(16), 0xABCD);
        assert!(!decoder.overran());
    }

    #[test]
    fn a_stream_of_zeros_costs_almost_nothing() {
        let mut encoder = RangeEncoder::new(Vec::new());
        let mut model = IntegerModel::default();
        for _ in 0..1000 {
            model.encode(&mut encoder, 0);
        }
        let bytes = encoder.finish();
        assert!(bytes.len() < 16, "{} bytes for 1000 zeros", bytes.len());
    }
}
