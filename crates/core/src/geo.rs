//! A place on the map, as a citizen shares it: a WhatsApp or Telegram
//! location pin. Kept on the complaint it locates, linked to OpenStreetMap
//! for staff (no map is embedded: the page loads nothing from outside).

use serde::{Deserialize, Serialize};

/// Latitude and longitude in degrees (WGS 84, as phones share them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoPoint {
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub latitude: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub longitude: f64,
}

impl GeoPoint {
    /// A point on the globe, or None for numbers that are not one.
    pub fn new(latitude: f64, longitude: f64) -> Option<Self> {
        ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)).then_some(
            Self {
                latitude,
                longitude,
            },
        )
    }

    /// The point on OpenStreetMap, marked, at street level.
    pub fn osm_url(&self) -> String {
        format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=18/{lat:.6}/{lon:.6}",
            lat = self.latitude,
            lon = self.longitude
        )
    }

    /// `18.520430, 73.856744`: how the point reads where no name came with it.
    pub fn text(&self) -> String {
        format!("{:.6}, {:.6}", self.latitude, self.longitude)
    }
}

/// A shared location as a message carries it (in its `payload`): the
/// point, and the place's name and address when the phone sent them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedLocation {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl SharedLocation {
    /// Reads a location message's payload; None when it is not one.
    pub fn from_payload(payload: &str) -> Option<Self> {
        let shared: Self = serde_json::from_str(payload).ok()?;
        shared.point().map(|_| shared)
    }

    pub fn point(&self) -> Option<GeoPoint> {
        GeoPoint::new(self.latitude, self.longitude)
    }

    /// What the complaint's location says: the name and address the phone
    /// sent, else the coordinates.
    pub fn label(&self) -> String {
        let words: Vec<&str> = [self.name.as_deref(), self.address.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if words.is_empty() {
            self.point().map(|p| p.text()).unwrap_or_default()
        } else {
            words.join(", ")
        }
    }

    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_reads_as_its_place_or_its_coordinates() {
        assert!(GeoPoint::new(91.0, 0.0).is_none());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_none());
        let p = GeoPoint::new(18.52043, 73.856744).unwrap();
        assert_eq!(
            p.osm_url(),
            "https://www.openstreetmap.org/?mlat=18.520430&mlon=73.856744#map=18/18.520430/73.856744"
        );
        let shared = SharedLocation {
            latitude: 18.52043,
            longitude: 73.856744,
            name: Some("Shaniwar Wada".into()),
            address: Some("Shaniwar Peth, Pune".into()),
        };
        assert_eq!(shared.label(), "Shaniwar Wada, Shaniwar Peth, Pune");
        let back = SharedLocation::from_payload(&shared.to_payload()).unwrap();
        assert_eq!(back, shared);
        let bare = SharedLocation::from_payload(r#"{"latitude":18.5,"longitude":73.8}"#).unwrap();
        assert_eq!(bare.label(), "18.500000, 73.800000");
        assert!(SharedLocation::from_payload(r#"{"latitude":200,"longitude":73.8}"#).is_none());
        assert!(SharedLocation::from_payload("intake:yes").is_none());
    }
}
