//! A few SVG primitives for the architecture picture: boxes, nodes, arrows and text, written as
//! plain text so the output is byte-for-byte deterministic (it is committed and checked fresh).

use std::fmt::Write;

pub struct Svg {
    width: u32,
    height: u32,
    body: String,
}

/// A node's rectangle, for placing arrows on its edges.
#[derive(Clone, Copy, Debug)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Rect {
        Rect { x, y, w, h }
    }

    fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the segment from the centre towards `(tx, ty)` leaves the rectangle.
    fn border_towards(&self, tx: f64, ty: f64) -> (f64, f64) {
        let (cx, cy) = self.center();
        let (dx, dy) = (tx - cx, ty - cy);
        if dx == 0.0 && dy == 0.0 {
            return (cx, cy);
        }
        let sx = if dx == 0.0 {
            f64::INFINITY
        } else {
            (self.w / 2.0) / dx.abs()
        };
        let sy = if dy == 0.0 {
            f64::INFINITY
        } else {
            (self.h / 2.0) / dy.abs()
        };
        let s = sx.min(sy);
        (cx + dx * s, cy + dy * s)
    }
}

/// How a box is drawn: the area boxes (VPC, subnets) are light, resources are solid, and a
/// resource that exists only under a condition is dashed.
#[derive(Clone, Copy)]
pub enum Style {
    Area(&'static str),
    Node(&'static str),
    Conditional(&'static str),
}

impl Svg {
    pub fn new(width: u32, height: u32) -> Svg {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    pub fn rect(&mut self, r: Rect, style: Style) {
        let (fill, stroke, dash, radius) = match style {
            Style::Area(fill) => (fill, "#5b6770", "", 10),
            Style::Node(fill) => (fill, "#232f3e", "", 6),
            Style::Conditional(fill) => (fill, "#232f3e", " stroke-dasharray=\"5 3\"", 6),
        };
        let _ = writeln!(
            self.body,
            "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" rx=\"{radius}\" fill=\"{fill}\" stroke=\"{stroke}\"{dash}/>",
            r.x, r.y, r.w, r.h
        );
    }

    /// Text at `(x, y)`; `anchor` is SVG's `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, size: u32, anchor: &str, bold: bool, text: &str) {
        let weight = if bold { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(
            self.body,
            "<text x=\"{x:.0}\" y=\"{y:.0}\" font-size=\"{size}\" text-anchor=\"{anchor}\"{weight}>{}</text>",
            escape(text)
        );
    }

    /// A labelled resource box: the logical ID in bold, the type (and condition) below it.
    pub fn node(&mut self, r: Rect, style: Style, title: &str, subtitle: &str) {
        self.rect(r, style);
        let cx = r.x + r.w / 2.0;
        if subtitle.is_empty() {
            self.text(cx, r.y + r.h / 2.0 + 4.0, 12, "middle", true, title);
        } else {
            self.text(cx, r.y + r.h / 2.0 - 2.0, 12, "middle", true, title);
            self.text(cx, r.y + r.h / 2.0 + 12.0, 10, "middle", false, subtitle);
        }
    }

    /// An arrow from the border of `from` to the border of `to`, with an optional label.
    pub fn arrow(&mut self, from: Rect, to: Rect, label: &str) {
        let (tcx, tcy) = to.center();
        let (fcx, fcy) = from.center();
        let (x1, y1) = from.border_towards(tcx, tcy);
        let (x2, y2) = to.border_towards(fcx, fcy);
        let _ = writeln!(
            self.body,
            "<line x1=\"{x1:.0}\" y1=\"{y1:.0}\" x2=\"{x2:.0}\" y2=\"{y2:.0}\" stroke=\"#455a64\" stroke-width=\"1.4\" marker-end=\"url(#arrow)\"/>"
        );
        if !label.is_empty() {
            self.text(
                (x1 + x2) / 2.0 + 4.0,
                (y1 + y2) / 2.0 - 3.0,
                10,
                "start",
                false,
                label,
            );
        }
    }

    pub fn finish(self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"Helvetica, Arial, sans-serif\">\n\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#455a64\"/></marker></defs>\n\
<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{body}</svg>\n",
            w = self.width,
            h = self.height,
            body = self.body
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
