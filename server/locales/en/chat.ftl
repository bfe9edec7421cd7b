# What the conversation engine says to patients, in English: replies,
# notices, card titles and buttons. Looked up with `Catalog::text` (see
# server/src/i18n.rs); every key here must also be in locales/es/chat.ftl.
#
# Variables every message may use: { $clinic } (the clinic's name) and
# { $phone } (its main number). Numbers in replies become tap-to-call links
# in the widget, so write them as people dial them.

## Consent and errors

consent-declined = No problem: nothing you type here will be processed. You can reach { $clinic } by phone at { $phone }. In an emergency call 911; for a mental health crisis call or text 988.
consent-accepted = Thank you. I can answer questions about { $clinic }: hours, location, insurance, services and more. Once you confirm who you are, I can also show and book your appointments and tell you whether lab results or refills are ready. What can I help you with?
disclaimer-default = This chat answers general questions about { $clinic }. It is not medical advice and is not monitored in real time. In an emergency call 911. For a mental health crisis call or text 988.
error-policy-version = The notice has changed since this chat opened. Please start a new chat to read the current one.
error-consent-not-recorded = Sorry, we could not record your consent just now, so the chat cannot start. Please try again, or call us at { $phone }.
error-consent-required = Please read the notice and choose "Accept" before we chat; nothing you type is processed until then. In an emergency call 911; for a mental health crisis call or text 988.
error-invalid-message-id = This message could not be sent. Please try again.
error-message-too-long = That message is too long. Please keep it under { $max } characters.
error-rate-limited = Please wait a few seconds before sending another message.
error-session-full = This chat has reached its length limit. Please start a new chat, or call us at { $phone }.
error-unsupported-locale = This chat is available in English and Spanish.
error-unknown-reply = That feedback could not be matched to a reply in this chat.
error-invalid-feedback = That feedback could not be read. Please choose thumbs up or thumbs down again.

## Safety: emergency guidance. Variables: { $emergency } (911), { $crisis }
## (988), { $textline } (741741), { $dv } (domestic violence hotline),
## { $poison } (Poison Control), { $nurse } (the clinic's nurse line).

safety-self-harm = I'm really sorry you're going through this, and I'm glad you reached out. Please call or text { $crisis } now to talk with someone at the Suicide & Crisis Lifeline, any time, day or night; you can also text HOME to { $textline }. If you have taken something or are in immediate danger, call { $emergency } now. I've let our clinic know, and our nurses are at { $nurse }.
safety-harm-to-others = Thank you for telling us. If anyone is in immediate danger, call { $emergency } now. To talk with someone right away, call or text { $crisis }, any time, day or night. I've let our clinic know, and our nurses are at { $nurse }.
safety-abuse = I'm so sorry this is happening. You deserve to be safe. If you are in danger right now, call { $emergency }. The National Domestic Violence Hotline is free and confidential, day or night: { $dv }. You can also call or text { $crisis }. I've let our clinic know, and our nurses are at { $nurse }.
safety-medical-emergency = This could be a medical emergency. Call { $emergency } now, or go to the nearest emergency room. Please don't wait for a reply here. I've let our clinic know; for anything that is not an emergency, our nurses are at { $nurse }.
safety-poisoning = Call Poison Control now at { $poison }: it's free and open day and night. If the person is hard to wake, having trouble breathing or having a seizure, call { $emergency } right away. I've let our clinic know, and our nurses are at { $nurse }.
safety-medical-advice = I'm sorry, I can't give medical advice or tell what a symptom means in this chat; only a clinician who can ask you questions can do that. Please call our nurse line at { $nurse } to talk it through with a nurse, or I can help you book an appointment. If it feels urgent, call { $emergency }; for a mental health crisis call or text { $crisis }.
emergency-card-title = Get help now
advice-card-title = What would you like to do?
offer-book = Book an appointment
call-emergency = Call 911
call-crisis = Call 988
text-crisis = Text 988
text-crisis-text-line = Text HOME to 741741
call-dv = Call the Domestic Violence Hotline
call-poison = Call Poison Control
call-nurse = Call our nurse line

## Small talk, fallback, clarifying questions, a person

chat-empty = I didn't catch that. What would you like to know?
chat-greeting = Hello! I can help with questions about { $clinic }: opening hours, location, insurance, services and more, and with your appointments.
chat-thanks = You're welcome! Is there anything else I can help with?
chat-goodbye = Thanks for chatting with { $clinic }. Take care!
fallback-unknown = I'm sorry, I don't know the answer to that. Our front desk can help: call { $phone }. I can answer questions about our hours, location, insurance and services, and help with your appointments.
clarify = I want to make sure I understand. Did you mean one of these?
clarify-card-title = Did you mean…
card-expired = That option is no longer available. Tell me what you would like to do and I'll show you the current choices.
card-dismissed = No problem. Is there anything else I can help with?
intent-appointments-list = See my appointments
intent-appointments-book = Book an appointment
intent-appointments-cancel = Cancel an appointment
intent-appointments-reschedule = Move an appointment
intent-labs-status = My lab results
intent-refills-status = My prescriptions and refills
intent-handoff-person = Talk to a person
intent-chat-greeting = Just saying hello
intent-chat-thanks = Just saying thanks
intent-chat-goodbye = Ending the chat

## Verification

identity-details-needed = To keep your information private, I need to confirm who you are first. Please type your date of birth (MM/DD/YYYY) and your last name. For example: 04/12/1980 Rivera. Type "cancel" to stop.
identity-details-needed-mrn = To keep your information private, I need to confirm who you are first. Please type your date of birth (MM/DD/YYYY), your last name and your medical record number (it's on your clinic card). For example: 04/12/1980 Rivera MG-100234. Type "cancel" to stop.
identity-missing-birth-date = Sorry, I need your date of birth with the year, for example 04/12/1980, and your last name. Please type them together, for example: 04/12/1980 Rivera. Type "cancel" to stop.
identity-missing-family = Sorry, I need your last name as well as your date of birth. Please type them together, for example: 04/12/1980 Rivera
identity-missing-identifier = Sorry, I need your medical record number as well (it's on your clinic card). For example: 04/12/1980 Rivera MG-100234
identity-code-sent-sms = Thanks. If those details match our records, we've sent a 6-digit code by text message to the phone number on file. Please type it here; it expires in { $minutes } minutes. Didn't get it? Type "new code". If your number has changed, please call us at { $phone }.
identity-code-sent-email = Thanks. If those details match our records, we've sent a 6-digit code by email to the address on file. Please type it here; it expires in { $minutes } minutes. Didn't get it? Type "new code". If your address has changed, please call us at { $phone }.
identity-code-needed = I'm waiting for the 6-digit code we sent. Please type it here, type "new code" to get another one, or "cancel" to stop. If the details you typed were wrong, type them again.
identity-verified = Thank you, { $name }: you're verified for this chat.
identity-code-wrong = That code didn't match. Please check the message and try again ({ $left ->
        [one] 1 try
       *[other] { $left } tries
    } left for this code), or type "new code".
identity-code-spent = That code didn't match, and it can't be used any more. Type "new code" to get a new one.
identity-code-expired = That code has expired or was already used. Type "new code" to get a new one.
identity-code-unavailable = Sorry, I couldn't check that code just now. Please type it again in a moment, or call us at { $phone }.
identity-resend-wait = A code was sent a moment ago. Please wait { $seconds } seconds before asking for another one.
identity-unavailable = Sorry, I can't reach our records system to confirm who you are just now. Please type "try again" in a few minutes, or call us at { $phone }.
identity-locked = For your security, verification is paused after too many incorrect codes. Please call us at { $phone } and our front desk will help you, or try again later.
identity-limited = For your security, I can't send another code right now. Please call us at { $phone } and our front desk will help you, or try again later.
identity-cancelled = Okay, I've stopped. Is there anything else I can help with?

## The EHR

ehr-unavailable = Sorry, I couldn't reach our records system just now. Nothing you asked for is lost: type "try again" in a moment, or call us at { $phone }.
ehr-not-found = I couldn't find that any more; it may have changed. Ask me again to see the current details.
ehr-error = Sorry, something went wrong with that request. Please call us at { $phone } and we'll sort it out.
records-not-recorded = Sorry, I can't show your records or confirm a change right now: our system could not keep the required record of this request. Please call us at { $phone } and we'll help you directly.

## Appointments

appointments-none = You have no upcoming appointments with us. To book one, tell me what you need, for example "a checkup next week".
appointments-list = Here are your upcoming appointments.
appointments-list-title = Your upcoming appointments
appointments-cancel = Which appointment would you like to cancel?
appointments-cancel-title = Choose an appointment to cancel
appointments-reschedule = Which appointment would you like to move?
appointments-reschedule-title = Choose an appointment to move
appointments-slots = Here are the first free times I found. Which one suits you?
slots-title = Free times
appointments-no-slots = I couldn't find a free time for that. Try another day or time of day, or call us at { $phone }.
appointments-unknown-practitioner = I couldn't find a practitioner by that name at this clinic. Our practitioners are { $names }.
appointments-confirm = Please confirm:
confirm-book-title = Book this appointment?
confirm-move-title = Move this appointment?
confirm-cancel-title = Cancel this appointment?
move-from = From { $when }
move-to = To { $when }
appointments-booked = You're booked. If you need to change it, just ask here or call us at { $phone }.
booked-title = Appointment booked
appointments-rescheduled = Done: your appointment has been moved.
moved-title = Appointment moved
appointments-cancelled = Your appointment is cancelled. If you'd like another time, just tell me when.
cancelled-title = Appointment cancelled
appointments-slot-taken = Sorry, that time was just taken by someone else. Ask me again and I'll show you the times that are free now.
button-cancel-this = Cancel this
button-move-this = Move this
button-reschedule = Reschedule
button-cancel = Cancel
button-choose = Choose
button-none-of-these = None of these
button-yes-book = Yes, book it
button-yes-move = Yes, move it
button-yes-cancel = Yes, cancel it
button-no = No
button-no-keep = No, keep it
service-checkup = Checkup
service-follow-up = Follow-up
service-sick-visit = Sick visit
service-vaccination = Vaccination

## Labs and refills (never a value: status only)

labs-none = I don't see any lab orders for you right now.
labs-status-ready = Results are ready for { $ready } of your tests. I can't show results in this chat: please contact the office at { $phone } and we'll go over them with you.
labs-status-pending = { $pending ->
        [one] 1 test is still pending; we'll contact you when it's ready.
       *[other] { $pending } tests are still pending; we'll contact you when they're ready.
    }
labs-title = Your lab orders
lab-ready = Ready: please contact the office
lab-pending-since = Pending (ordered { $date })
lab-pending = Pending
refills-none = I don't see any prescriptions for you right now.
refills-status = Here is where your prescriptions stand. For anything else about a medication, please call us at { $phone }.
refills-title = Your prescriptions
refill-active = Active: ready to be filled at your pharmacy
refill-on-hold = On hold: waiting for the clinic; we'll contact you
refill-completed = No refills left: please call the office
refill-stopped = Stopped
refill-pending = Being prepared

## Handoff to a person
handoff-queued = I've asked a person from { $clinic } to join this chat. You are number { $position } in line; please stay here. In an emergency, call 911.
handoff-queued-crisis = A person from { $clinic } has been alerted and will join this chat as soon as they can. Please don't wait for them: use the numbers above now.
handoff-already-joined = A person from { $clinic } is already in this chat.
handoff-after-hours = Our staff are away right now. We open { $opens }, and a person will read this chat then. For anything urgent, call { $phone }; in an emergency, call 911.
handoff-joined = { $name } from { $clinic } has joined the chat.
handoff-returned = { $name } handed the chat back to the assistant. You can ask me anything again.
still-working = One moment, please: our records system is slow to answer right now. Your answer will follow here.
handoff-closed = { $name } closed the conversation. Thank you for chatting with { $clinic }.
