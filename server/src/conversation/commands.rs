//! The few typed words that steer a flow, in English and Spanish: stop a
//! verification ("cancel", "cancelar"), ask for a new code ("new code",
//! "otro código"), repeat what the EHR could not do ("try again",
//! "intentar de nuevo"). Compared after [`carechat_language::text::fold`],
//! so case, accents and punctuation do not matter.

use carechat_language::text;

/// The message's words, folded, joined by single spaces.
fn folded(message: &str) -> String {
    text::words(message).join(" ")
}

/// "Cancel", "stop", "never mind", "cancelar", "olvídalo": leave the
/// verification.
pub(super) fn is_stop(message: &str) -> bool {
    matches!(
        folded(message).as_str(),
        "cancel"
            | "stop"
            | "never mind"
            | "nevermind"
            | "nvm"
            | "forget it"
            | "quit"
            | "cancelar"
            | "cancela"
            | "parar"
            | "para"
            | "olvidalo"
            | "olvidelo"
            | "no importa"
            | "salir"
            | "detener"
    )
}

/// "Try again", "intentar de nuevo": repeat what the EHR could not do.
pub(super) fn is_retry(message: &str) -> bool {
    matches!(
        folded(message).as_str(),
        "try again"
            | "retry"
            | "again"
            | "please try again"
            | "try again please"
            | "intentar de nuevo"
            | "intenta de nuevo"
            | "intente de nuevo"
            | "otra vez"
            | "de nuevo"
            | "reintentar"
            | "intentalo de nuevo"
            | "intentelo de nuevo"
    )
}

/// "New code", "resend", "otro código", "no me llegó": another one-time code.
pub(super) fn is_resend(message: &str) -> bool {
    let n = format!(" {} ", folded(message));
    [
        " new code ",
        " resend ",
        " send again ",
        " another code ",
        " didn t get ",
        " didnt get ",
        " nuevo codigo ",
        " codigo nuevo ",
        " otro codigo ",
        " reenviar ",
        " reenvia ",
        " no me llego ",
        " no llego ",
        " mandar otro ",
    ]
    .iter()
    .any(|p| n.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_words_work_in_both_languages() {
        for stop in ["Cancel.", "never mind!", "Cancelar", "olvídalo"] {
            assert!(is_stop(stop), "{stop}");
        }
        assert!(!is_stop("cancel my appointment"));
        for again in ["try again", "Intentar de nuevo", "otra vez"] {
            assert!(is_retry(again), "{again}");
        }
        for resend in [
            "new code please",
            "I didn't get it",
            "otro código",
            "no me llegó",
        ] {
            assert!(is_resend(resend), "{resend}");
        }
    }
}
