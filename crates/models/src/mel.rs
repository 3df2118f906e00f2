//! The Slaney-style mel filter bank Whisper was trained with (librosa's `filters.mel` with its
//! defaults: `htk=False`, `norm="slaney"`), stored in every GGML Whisper file.

fn hz_to_mel(hz: f64) -> f64 {
    let linear = hz / (200.0 / 3.0);
    if hz >= 1000.0 { 15.0 + (hz / 1000.0).ln() / ((6.4f64).ln() / 27.0) } else { linear }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= 15.0 { 1000.0 * (((6.4f64).ln() / 27.0) * (mel - 15.0)).exp() } else { mel * 200.0 / 3.0 }
}

/// `n_mels` rows of `n_fft / 2 + 1` weights, row-major.
pub fn filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let nyquist = sample_rate as f64 / 2.0;
    let fft_hz: Vec<f64> = (0..bins).map(|i| i as f64 * nyquist / (bins - 1) as f64).collect();
    let top = hz_to_mel(nyquist);
    let mel_hz: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let mut out = Vec::with_capacity(n_mels * bins);
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_hz[m], mel_hz[m + 1], mel_hz[m + 2]);
        let norm = 2.0 / (hi - lo);
        out.extend(fft_hz.iter().map(|&f| {
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            (rising.min(falling).max(0.0) * norm) as f32
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_is_a_triangle_of_unit_area_in_hz() {
        let f = filters(16000, 400, 80);
        assert_eq!(f.len(), 80 * 201);
        // Slaney normalisation makes each triangle's area in Hz equal to 1; on the 40 Hz bin grid
        // the sum of a row times 40 Hz approximates it (to sampling error).
        for row in f.chunks(201) {
            let area: f32 = row.iter().sum::<f32>() * 40.0;
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
        // The first filter starts at 0 Hz and peaks within the first bins.
        assert_eq!(f[0], 0.0);
        assert!(f[1] > 0.0);
    }

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert_eq!(hz_to_mel(1000.0), 15.0);
    }
}
