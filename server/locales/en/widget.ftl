# The chat widget's own words (app/), in English.
#
# The widget's WebAssembly carries none of these: the embed page hands it
# every message of this file, for every locale, and the widget looks them up
# by key (falling back to English, then to the key). So:
# - no variables ($name): the widget cannot format them;
# - every key here must be in every other locale's widget.ftl (a test
#   checks);
# - phone numbers (911, 988, (555) 010-4477) become tap-to-call links
#   wherever the widget shows them as text.
# Keep them short: they share a 380-pixel-wide window with the chat.

## The page

# Before the clinic's name in the window title: "Chat: Maple Grove Family Clinic".
page-title = Chat
# The header, when the clinic has no name configured.
clinic-fallback = Clinic chat
boot-loading = Loading the secure chat…
boot-noscript = This chat needs JavaScript. Please call the clinic. In an emergency, call 911.
boot-failed = The chat could not load in this browser. Please call the clinic. In an emergency, call 911.
# The embed page when the widget is not built (plain text, from the server).
embed-unavailable = The chat is not available right now. Please call the clinic. In an emergency, call 911.

## Header

header-subtitle = Secure chat
header-end = End chat
header-minimize = Minimize chat
# The language button: the name of the other language, in that language.
language-switch = Español

## Always on screen

safety-line = Not medical advice. In an emergency call 911. For a mental health crisis call or text 988.

## Connecting

connecting-title = Connecting securely…
connecting-trouble = Still trying to reach the clinic's chat. If you need help now, please call the clinic.

## The notice and consent

consent-title = Before we start
# The accessible name of the box that holds the clinic's notice.
consent-notice-label = Notice
consent-question = Do you agree to chat on these terms?
consent-accept = Accept
consent-decline = Decline
consent-sending = Sending your answer…
# The message box on the consent screen, for someone in trouble right now.
consent-message-label = In an emergency? Tell us here, or call 911.
# When a message sent before accepting could not be answered.
consent-first = Please accept the notice so we can answer. In an emergency, call 911.
session-replaced = Your previous chat session ended; a new chat session has started.

## After declining

declined-title = You declined the chat
declined-review = Review the notice again

## The conversation

chat-label = Conversation
transcript-label = Messages
transcript-empty = Ask a question about the clinic: hours, locations, appointments.
composer-label = Your message
composer-send = Send
composer-sending = Sending…
composer-help = Enter to send, Shift+Enter for a new line.
composer-too-long = That message is too long. Please shorten it.
# Read out before each line by screen readers.
msg-you = You:
msg-clinic = Clinic:
msg-urgent = Urgent, clinic:
# The label above emergency guidance.
msg-important = Important
msg-sending = Sending…
msg-failed = Not delivered
msg-previous = (previous session)
link-reconnecting = Reconnecting… Your messages will be sent when the connection is back.
# After the name of the person from the clinic: "Sam Rivera is typing…".
staff-typing = is typing…
# A person's role, after their name on their messages: "Sam Rivera · Nurse".
# One per role the server names (front_desk, nurse).
staff-role-front_desk = Front desk
staff-role-nurse = Nurse
# Thumbs up and down under the assistant's replies (the thumbs are drawn;
# these are their names for screen readers), then the reasons offered after
# a thumbs down, and what is said once a vote is sent.
feedback-label = Was this answer helpful?
feedback-up = Helpful
feedback-down = Not helpful
feedback-why = What was wrong? (optional)
feedback-not-what-i-asked = Not what I asked
feedback-hard-to-understand = Hard to understand
feedback-wrong-or-out-of-date = Wrong or out of date
feedback-other = Other
feedback-thanks = Thanks for your feedback

## After "End chat"

ended-title = Chat ended
ended-body = This conversation has been cleared from this window.
ended-restart = Start a new chat

## When the chat cannot go on

failure-identity-title = This chat has stopped for your safety
failure-identity-body = We could not verify that this chat is connected to the clinic's secure server, so it has stopped to protect your information. Nothing you type here will be sent. Please call the clinic instead.
failure-setup-title = The chat is not available
failure-setup-body = This chat is not set up correctly, so it cannot start securely. Please call the clinic instead.
failure-refused-title = The chat could not start
failure-refused-body = The clinic's chat service could not start a secure session. You can try again, or call the clinic.
failure-emergency = In an emergency, call 911.
failure-retry = Try again
