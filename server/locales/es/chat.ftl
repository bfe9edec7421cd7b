# Lo que dice el motor de conversación a los pacientes, en español de
# Latinoamérica (de usted): respuestas, avisos, títulos y botones de las
# tarjetas. Se buscan con `Catalog::text` (vea server/src/i18n.rs); cada
# clave de este archivo debe estar también en locales/en/chat.ftl, y al revés.
#
# Variables que puede usar cualquier mensaje: { $clinic } (el nombre de la
# clínica) y { $phone } (su número principal). Los números de las respuestas
# se vuelven enlaces para llamar en el widget, así que escríbalos como se
# marcan.

## Consentimiento y errores

consent-declined = No hay problema: no procesaremos nada de lo que escriba aquí. Puede llamar a { $clinic } al { $phone }. En una emergencia, llame al 911. En una crisis de salud mental, llame al 988 y oprima 2, o envíe AYUDA por mensaje de texto al 988.
consent-accepted = Gracias. Puedo responder sus preguntas sobre { $clinic }: horarios, ubicación, seguros, servicios y más. Cuando confirme quién es, también puedo mostrarle sus citas y ayudarle a reservar una. Y puedo decirle si ya están listos sus resultados de laboratorio o sus recetas. ¿En qué le puedo ayudar?
disclaimer-default = Este chat responde preguntas generales sobre { $clinic }. No da consejos médicos. Nadie lo revisa en tiempo real. En una emergencia, llame al 911. En una crisis de salud mental, llame al 988 y oprima 2, o envíe AYUDA por mensaje de texto al 988.
error-policy-version = El aviso cambió desde que abrió este chat. Por favor, empiece un chat nuevo para leer el aviso actual.
error-consent-not-recorded = Lo sentimos, ahora no pudimos guardar su consentimiento. Por eso el chat no puede empezar. Por favor, intente de nuevo o llámenos al { $phone }.
error-consent-required = Por favor, lea el aviso y elija "Aceptar" antes de chatear. Hasta entonces, no procesamos nada de lo que escriba. En una emergencia, llame al 911. En una crisis de salud mental, llame al 988 y oprima 2, o envíe AYUDA por mensaje de texto al 988.
error-invalid-message-id = No se pudo enviar este mensaje. Por favor, intente de nuevo.
error-message-too-long = Ese mensaje es demasiado largo. Por favor, escriba menos de { $max } caracteres.
error-rate-limited = Por favor, espere unos segundos antes de enviar otro mensaje.
error-session-full = Este chat llegó a su límite de longitud. Por favor, empiece un chat nuevo o llámenos al { $phone }.
error-unsupported-locale = Este chat está disponible en inglés y en español.
error-unknown-reply = No pudimos relacionar esa opinión con una respuesta de este chat.
error-invalid-feedback = No pudimos leer esa opinión. Por favor, elija de nuevo pulgar arriba o pulgar abajo.

## Seguridad: orientación en emergencias. Variables: { $emergency } (911),
## { $crisis } (988), { $textline } (741741), { $dv } (línea de violencia
## doméstica), { $poison } (Control de Envenenamientos), { $nurse } (la línea
## de enfermería de la clínica).

safety-self-harm = Siento mucho que esté pasando por esto. Me alegra que nos haya escrito. Por favor, llame ahora al { $crisis } y oprima 2 para hablar en español con alguien de la Línea de Prevención del Suicidio y Crisis. Atienden a cualquier hora, de día o de noche. También puede enviar AYUDA por mensaje de texto al { $crisis }, o enviar HOLA al { $textline }. Si tomó algo o está en peligro inmediato, llame al { $emergency } ahora. Ya avisé a nuestra clínica. Puede llamar a nuestra línea de enfermería al { $nurse }.
safety-harm-to-others = Gracias por decírnoslo. Si alguien está en peligro inmediato, llame al { $emergency } ahora. Para hablar con alguien enseguida, llame al { $crisis } y oprima 2, o envíe AYUDA por mensaje de texto al { $crisis }. Atienden a cualquier hora, de día o de noche. Ya avisé a nuestra clínica. Puede llamar a nuestra línea de enfermería al { $nurse }.
safety-abuse = Siento mucho que le esté pasando esto. Usted merece estar a salvo. Si está en peligro ahora mismo, llame al { $emergency }. La Línea Nacional sobre la Violencia Doméstica es gratuita y confidencial, de día o de noche, y tiene asesores que hablan español: { $dv }. También puede llamar al { $crisis } y oprimir 2, o enviar AYUDA por mensaje de texto al { $crisis }. Ya avisé a nuestra clínica. Puede llamar a nuestra línea de enfermería al { $nurse }.
safety-medical-emergency = Esto podría ser una emergencia médica. Llame al { $emergency } ahora o vaya a la sala de emergencias más cercana. Por favor, no espere una respuesta aquí. Ya avisé a nuestra clínica. Si no es una emergencia, puede llamar a nuestra línea de enfermería al { $nurse }.
safety-poisoning = Llame ahora a Control de Envenenamientos al { $poison }. Es gratis, atiende de día y de noche, y contestan en español. Si a la persona le cuesta despertar, le cuesta respirar o tiene una convulsión, llame al { $emergency } enseguida. Ya avisé a nuestra clínica. Puede llamar a nuestra línea de enfermería al { $nurse }.
safety-medical-advice = Lo siento, en este chat no puedo dar consejos médicos ni decirle qué significa un síntoma. Eso solo lo puede hacer un profesional de salud que le pueda hacer preguntas. Por favor, llame a nuestra línea de enfermería al { $nurse } para hablarlo con una enfermera. O, si quiere, puedo ayudarle a reservar una cita. Si siente que es urgente, llame al { $emergency }. En una crisis de salud mental, llame al { $crisis } y oprima 2, o envíe AYUDA por mensaje de texto al { $crisis }.
emergency-card-title = Busque ayuda ahora
advice-card-title = ¿Qué le gustaría hacer?
offer-book = Reservar una cita
call-emergency = Llamar al 911
call-crisis = Llamar al 988
text-crisis = Enviar texto al 988
text-crisis-text-line = Envíe HOLA al 741741
call-dv = Llamar a la línea de violencia doméstica
call-poison = Llamar a Control de Envenenamientos
call-nurse = Llamar a enfermería

## Conversación breve, respuesta por defecto, preguntas para aclarar, una persona

chat-empty = No le entendí. ¿Qué le gustaría saber?
chat-greeting = ¡Hola! Puedo ayudarle con preguntas sobre { $clinic }: horarios, ubicación, seguros, servicios y más. También puedo ayudarle con sus citas.
chat-thanks = ¡Con gusto! ¿Le puedo ayudar con algo más?
chat-goodbye = Gracias por chatear con { $clinic }. ¡Cuídese!
fallback-unknown = Lo siento, no sé la respuesta a eso. En la recepción le pueden ayudar: llame al { $phone }. Puedo responder preguntas sobre nuestros horarios, ubicación, seguros y servicios. También puedo ayudarle con sus citas.
clarify = Quiero asegurarme de entenderle bien. ¿Quiso decir una de estas opciones?
clarify-card-title = ¿Quiso decir…
card-expired = Esa opción ya no está disponible. Dígame qué le gustaría hacer y le mostraré las opciones de ahora.
card-dismissed = No hay problema. ¿Le puedo ayudar con algo más?
intent-appointments-list = Ver mis citas
intent-appointments-book = Reservar una cita
intent-appointments-cancel = Cancelar una cita
intent-appointments-reschedule = Cambiar una cita
intent-labs-status = Mis resultados de laboratorio
intent-refills-status = Mis recetas y resurtidos
intent-handoff-person = Hablar con una persona
intent-chat-greeting = Solo quería saludar
intent-chat-thanks = Solo quería dar las gracias
intent-chat-goodbye = Terminar el chat

## Verificación

identity-details-needed = Para proteger su información, primero necesito confirmar quién es. Por favor, escriba su fecha de nacimiento (mes/día/año) y su apellido. Por ejemplo: 04/12/1980 Rivera. Si quiere detenerse, escriba "cancelar".
identity-details-needed-mrn = Para proteger su información, primero necesito confirmar quién es. Por favor, escriba su fecha de nacimiento (mes/día/año), su apellido y su número de expediente médico (aparece en su tarjeta de la clínica). Por ejemplo: 04/12/1980 Rivera MG-100234. Si quiere detenerse, escriba "cancelar".
identity-missing-birth-date = Lo siento, necesito su fecha de nacimiento completa, con el año (mes/día/año), por ejemplo 04/12/1980, y también su apellido. Por favor, escríbalos juntos, por ejemplo: 04/12/1980 Rivera. Si quiere detenerse, escriba "cancelar".
identity-missing-family = Lo siento, necesito su apellido además de su fecha de nacimiento (mes/día/año). Por favor, escríbalos juntos, por ejemplo: 04/12/1980 Rivera
identity-missing-identifier = Lo siento, también necesito su número de expediente médico (aparece en su tarjeta de la clínica). Escríbalo junto con su fecha de nacimiento (mes/día/año) y su apellido, por ejemplo: 04/12/1980 Rivera MG-100234
identity-code-sent-sms = Gracias. Si esos datos coinciden con nuestros registros, le enviamos un código de 6 dígitos por mensaje de texto al teléfono que tenemos registrado. Por favor, escríbalo aquí. El código vence en { $minutes } minutos. ¿No le llegó? Escriba "nuevo código". Si cambió su número, llámenos al { $phone }.
identity-code-sent-email = Gracias. Si esos datos coinciden con nuestros registros, le enviamos un código de 6 dígitos por correo electrónico a la dirección que tenemos registrada. Por favor, escríbalo aquí. El código vence en { $minutes } minutos. ¿No le llegó? Escriba "nuevo código". Si cambió su correo electrónico, llámenos al { $phone }.
identity-code-needed = Estoy esperando el código de 6 dígitos que le enviamos. Por favor, escríbalo aquí. Para recibir otro, escriba "nuevo código"; para detenerse, escriba "cancelar". Si los datos que escribió no eran correctos, vuelva a escribirlos.
identity-verified = Gracias, { $name }: ya confirmamos su identidad para este chat.
identity-code-wrong = Ese código no coincide. Por favor, revise el mensaje y vuelva a intentarlo ({ $left ->
        [one] le queda 1 intento
       *[other] le quedan { $left } intentos
    } con este código), o escriba "nuevo código".
identity-code-spent = Ese código no coincide y ya no se puede usar. Escriba "nuevo código" para recibir uno nuevo.
identity-code-expired = Ese código venció o ya se usó. Escriba "nuevo código" para recibir uno nuevo.
identity-code-unavailable = Lo siento, en este momento no pude revisar ese código. Por favor, vuelva a escribirlo en un momento o llámenos al { $phone }.
identity-resend-wait = Le enviamos un código hace un momento. Por favor, espere { $seconds } segundos antes de pedir otro.
identity-unavailable = Lo siento, en este momento no puedo conectarme con nuestro sistema de registros para confirmar quién es. Por favor, escriba "intentar de nuevo" en unos minutos o llámenos al { $phone }.
identity-locked = Por su seguridad, pausamos la verificación después de demasiados códigos incorrectos. Por favor, llámenos al { $phone } y en la recepción con gusto le ayudarán, o inténtelo más tarde.
identity-limited = Por su seguridad, en este momento no puedo enviar otro código. Por favor, llámenos al { $phone } y en la recepción con gusto le ayudarán, o inténtelo más tarde.
identity-cancelled = De acuerdo, lo dejamos aquí. ¿Le puedo ayudar con algo más?

## El sistema de registros médicos (EHR)

ehr-unavailable = Lo siento, en este momento no pude conectarme con nuestro sistema de registros. No se perdió nada de lo que pidió: en un momento, escriba "intentar de nuevo", o llámenos al { $phone }.
ehr-not-found = Ya no encontré eso; es posible que haya cambiado. Pregúnteme otra vez para ver los datos actuales.
ehr-error = Lo siento, algo salió mal con esa solicitud. Por favor, llámenos al { $phone } y lo resolveremos.
records-not-recorded = Lo siento, ahora no puedo mostrar sus registros ni confirmar un cambio: nuestro sistema no pudo guardar el registro obligatorio de esta solicitud. Por favor, llámenos al { $phone } y le ayudaremos directamente.

## Citas

appointments-none = No tiene citas próximas con nosotros. Para reservar una, dígame qué necesita, por ejemplo "un chequeo la próxima semana".
appointments-list = Estas son sus próximas citas.
appointments-list-title = Sus próximas citas
appointments-cancel = ¿Qué cita le gustaría cancelar?
appointments-cancel-title = Elija la cita que quiere cancelar
appointments-reschedule = ¿Qué cita le gustaría cambiar?
appointments-reschedule-title = Elija la cita que quiere cambiar
appointments-slots = Estos son los primeros horarios libres que encontré. ¿Cuál le conviene?
slots-title = Horarios libres
appointments-no-slots = No encontré un horario libre para eso. Pruebe con otro día u otra hora del día, o llámenos al { $phone }.
appointments-unknown-practitioner = No encontré a nadie con ese nombre en esta clínica. Nuestros profesionales son: { $names }.
appointments-confirm = Por favor, confirme:
confirm-book-title = ¿Reservar esta cita?
confirm-move-title = ¿Cambiar esta cita?
confirm-cancel-title = ¿Cancelar esta cita?
move-from = Fecha actual: { $when }
move-to = Nueva fecha: { $when }
appointments-booked = Su cita quedó reservada. Si necesita cambiarla, solo pídamelo aquí o llámenos al { $phone }.
booked-title = Cita reservada
appointments-rescheduled = Listo: cambiamos su cita.
moved-title = Cita cambiada
appointments-cancelled = Su cita quedó cancelada. Si quiere otro horario, solo dígame cuándo.
cancelled-title = Cita cancelada
appointments-slot-taken = Lo siento, otra persona acaba de reservar ese horario. Pregúnteme otra vez y le mostraré los horarios que están libres ahora.
button-cancel-this = Cancelar esta
button-move-this = Cambiar esta
button-reschedule = Reprogramar
button-cancel = Cancelar
button-choose = Elegir
button-none-of-these = Ninguna de estas
button-yes-book = Sí, reservarla
button-yes-move = Sí, cambiarla
button-yes-cancel = Sí, cancelarla
button-no = No
button-no-keep = No, conservarla
service-checkup = Chequeo
service-follow-up = Seguimiento
service-sick-visit = Consulta por enfermedad
service-vaccination = Vacunación

## Laboratorio y recetas (nunca un valor: solo el estado)

labs-none = En este momento no veo ningún análisis de laboratorio a su nombre.
labs-status-ready = Ya están listos los resultados de { $ready } de sus análisis. No puedo mostrar resultados en este chat. Por favor, llame a la clínica al { $phone } y los revisaremos con usted.
labs-status-pending = { $pending ->
        [one] Un análisis sigue pendiente. Le avisaremos cuando esté listo.
       *[other] { $pending } análisis siguen pendientes. Le avisaremos cuando estén listos.
    }
labs-title = Sus análisis de laboratorio
lab-ready = Listo: llame a la clínica
lab-pending-since = Pendiente (se pidió el { $date })
lab-pending = Pendiente
refills-none = En este momento no veo ninguna receta a su nombre.
refills-status = Así están sus recetas. Para cualquier otra pregunta sobre un medicamento, llámenos al { $phone }.
refills-title = Sus recetas
refill-active = Activa: su farmacia ya puede prepararla
refill-on-hold = En espera: depende de la clínica; le avisaremos
refill-completed = Ya no quedan resurtidos: llame a la clínica
refill-stopped = Suspendida
refill-pending = En preparación

## Traspaso a una persona
handoff-queued = Le pedí a una persona de { $clinic } que se una a este chat. Usted es el número { $position } en la fila; por favor, quédese aquí. En una emergencia, llame al 911.
handoff-queued-crisis = Ya avisamos a una persona de { $clinic }, que se unirá a este chat en cuanto pueda. Por favor, no la espere: use ahora los números de arriba.
handoff-already-joined = Una persona de { $clinic } ya está en este chat.
handoff-after-hours = Nuestro personal no está disponible ahora. Abrimos { $opens } y entonces una persona leerá este chat. Si es urgente, llame al { $phone }; en una emergencia, llame al 911.
handoff-joined = { $name }, de { $clinic }, se unió al chat.
handoff-returned = { $name } devolvió el chat al asistente. Puede preguntarme lo que necesite.
still-working = Un momento, por favor: nuestro sistema de registros está tardando en responder. Su respuesta llegará aquí.
handoff-closed = { $name } cerró la conversación. Gracias por escribir a { $clinic }.
