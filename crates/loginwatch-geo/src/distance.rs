//! Great-circle distance on a spherical Earth.

/// Mean Earth radius in kilometres (IUGG).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Haversine distance in kilometres between two (lat, lon) points in degrees.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_distances() {
        // Seoul → Pyongyang ≈ 195 km; London → New York ≈ 5570 km.
        let d = haversine_km(37.5665, 126.978, 39.0392, 125.7625);
        assert!((d - 195.0).abs() < 5.0, "{d}");
        let d = haversine_km(51.5074, -0.1278, 40.7128, -74.006);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
    }

    fn coord() -> impl Strategy<Value = (f64, f64)> {
        (-90.0f64..=90.0, -180.0f64..=180.0)
    }

    proptest! {
        #[test]
        fn symmetric_bounded_and_zero_on_self((a, b) in coord(), (c, d) in coord()) {
            let x = haversine_km(a, b, c, d);
            prop_assert!((x - haversine_km(c, d, a, b)).abs() < 1e-6);
            prop_assert!((0.0..=std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6).contains(&x));
            prop_assert!(haversine_km(a, b, a, b) < 1e-6);
        }

        #[test]
        fn triangle_inequality((a, b) in coord(), (c, d) in coord(), (e, f) in coord()) {
            let direct = haversine_km(a, b, e, f);
            prop_assert!(direct <= haversine_km(a, b, c, d) + haversine_km(c, d, e, f) + 1e-6);
        }
    }
}
