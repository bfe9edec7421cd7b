# Las palabras propias del widget del chat (app/), en español de
# Latinoamérica, tratando al paciente de usted.
#
# Mismas reglas que en locales/en/widget.ftl: sin variables, las mismas
# claves que en inglés (una prueba lo comprueba), y frases cortas.

## La página

page-title = Chat
clinic-fallback = Chat de la clínica
boot-loading = Cargando el chat seguro…
boot-noscript = Este chat necesita JavaScript. Por favor, llame a la clínica. En una emergencia, llame al 911.
boot-failed = El chat no pudo cargarse en este navegador. Por favor, llame a la clínica. En una emergencia, llame al 911.
# La página del chat cuando el widget no está instalado (texto simple, del servidor).
embed-unavailable = El chat no está disponible en este momento. Por favor, llame a la clínica. En una emergencia, llame al 911.

## Encabezado

header-subtitle = Chat seguro
header-end = Terminar chat
header-minimize = Minimizar el chat
# El botón de idioma: el nombre del otro idioma, en ese idioma.
language-switch = English

## Siempre en pantalla

safety-line = No es consejo médico. En una emergencia, llame al 911. En una crisis de salud mental, llame o envíe un mensaje de texto al 988.

## Conectando

connecting-title = Conectando de forma segura…
connecting-trouble = Seguimos intentando conectar con el chat de la clínica. Si necesita ayuda ahora, llame a la clínica.

## El aviso y el consentimiento

consent-title = Antes de empezar
consent-notice-label = Aviso
consent-question = ¿Está de acuerdo en chatear en estos términos?
consent-accept = Aceptar
consent-decline = No aceptar
consent-sending = Enviando su respuesta…
consent-message-label = ¿Es una emergencia? Escríbanos aquí o llame al 911.
consent-first = Acepte el aviso para que podamos responderle. En una emergencia, llame al 911.
session-replaced = Su sesión de chat anterior terminó; comenzó una nueva sesión.

## Después de no aceptar

declined-title = No aceptó el chat
declined-review = Leer el aviso otra vez

## La conversación

chat-label = Conversación
transcript-label = Mensajes
transcript-empty = Pregunte lo que necesite sobre la clínica: horarios, ubicación, citas.
composer-label = Su mensaje
composer-send = Enviar
composer-sending = Enviando…
composer-help = Enter para enviar, Mayús+Enter para una nueva línea.
composer-too-long = El mensaje es demasiado largo. Por favor, acórtelo.
msg-you = Usted:
msg-clinic = Clínica:
msg-urgent = Urgente, clínica:
msg-important = Importante
msg-sending = Enviando…
msg-failed = No se entregó
msg-previous = (sesión anterior)
link-reconnecting = Reconectando… Sus mensajes se enviarán cuando vuelva la conexión.
# Después del nombre de la persona de la clínica: "Sam Rivera está escribiendo…".
staff-typing = está escribiendo…
# El rol de la persona, después de su nombre: "Sam Rivera · Enfermería".
staff-role-front_desk = Recepción
staff-role-nurse = Enfermería
# Pulgar arriba y abajo bajo las respuestas del asistente (los pulgares se
# dibujan; estos son sus nombres para lectores de pantalla), los motivos
# que se ofrecen tras un pulgar abajo, y lo que se dice al enviar el voto.
feedback-label = ¿Le sirvió esta respuesta?
feedback-up = Me sirvió
feedback-down = No me sirvió
feedback-why = ¿Qué estuvo mal? (opcional)
feedback-not-what-i-asked = No es lo que pregunté
feedback-hard-to-understand = Difícil de entender
feedback-wrong-or-out-of-date = Incorrecta o desactualizada
feedback-other = Otro motivo
feedback-thanks = Gracias por su opinión

## Después de "Terminar chat"

ended-title = Chat terminado
ended-body = Esta conversación se borró de esta ventana.
ended-restart = Empezar un chat nuevo

## Cuando el chat no puede continuar

failure-identity-title = Este chat se detuvo por su seguridad
failure-identity-body = No pudimos verificar que este chat esté conectado al servidor seguro de la clínica, así que se detuvo para proteger su información. No se enviará nada de lo que escriba aquí. Por favor, llame a la clínica.
failure-setup-title = El chat no está disponible
failure-setup-body = Este chat no está bien configurado, así que no puede iniciarse de forma segura. Por favor, llame a la clínica.
failure-refused-title = No se pudo iniciar el chat
failure-refused-body = El servicio de chat de la clínica no pudo iniciar una sesión segura. Puede intentarlo de nuevo o llamar a la clínica.
failure-emergency = En una emergencia, llame al 911.
failure-retry = Intentar de nuevo
