//! What tells staff a crisis is waiting when they are looking elsewhere:
//! the tab title and, if they turned it on, a short beep (WebAudio, no
//! sound file to fetch). Browser-only; every call does nothing where there
//! is no window.

use std::cell::RefCell;

use web_sys::{AudioContext, OscillatorType};

thread_local! {
    /// The audio context, made when the sound is turned on (browsers allow
    /// audio only after a user gesture, and the toggle is one).
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// Now, in milliseconds since the epoch (the browser's clock).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Sets the tab's title.
pub fn set_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}

/// Turns the beep on (making the audio context, inside the user's gesture)
/// or off (closing it).
pub fn enable_sound(on: bool) {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if on {
            if audio.is_none() {
                *audio = AudioContext::new().ok();
            }
            if let Some(context) = audio.as_ref() {
                let _ = context.resume();
            }
        } else if let Some(context) = audio.take() {
            let _ = context.close();
        }
    });
}

/// A short two-tone beep, if the sound is on.
pub fn beep() {
    AUDIO.with(|audio| {
        if let Some(context) = audio.borrow().as_ref() {
            let _ = play(context, 880.0, 0.0).and_then(|()| play(context, 660.0, 0.18));
        }
    });
}

/// One 150 ms tone at `frequency` Hz, `delay` seconds from now.
fn play(context: &AudioContext, frequency: f32, delay: f64) -> Result<(), wasm_bindgen::JsValue> {
    let oscillator = context.create_oscillator()?;
    let gain = context.create_gain()?;
    oscillator.set_type(OscillatorType::Sine);
    oscillator.frequency().set_value(frequency);
    gain.gain().set_value(0.2);
    oscillator.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&context.destination())?;
    let start = context.current_time() + delay;
    oscillator.start_with_when(start)?;
    oscillator.stop_with_when(start + 0.15)?;
    Ok(())
}
