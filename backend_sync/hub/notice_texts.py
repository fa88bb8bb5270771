"""Texts of the citizen's notices (e-mail, letter, reminder) in every supported language; no fallback."""

# ruff: noqa: RUF001  (Cyrillic, Turkish and Arabic letters are the point of this file)

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    DE = "de"
    EN = "en"
    TR = "tr"
    UK = "uk"
    AR = "ar"
    RU = "ru"
    PL = "pl"


RTL = frozenset({Language.AR})

KEYS = (
    "subject_ready",
    "greeting",
    "ready",
    "until",
    "how_qr",
    "how_manual",
    "pickup_number",
    "pin",
    "dob_note",
    "return_old_id",
    "keep_secret",
    "location",
    "opening_hours",
    "subject_reminder",
    "reminder",
    "reminder_codes",
    "footer",
    "letter_title",
    "doc.id_card",
    "doc.passport",
    "doc.eat",
    "doc.certificate",
    "doc.document",
)

TEXTS: dict[Language, dict[str, str]] = {
    Language.DE: {
        "subject_ready": "Ihr Dokument liegt zur Abholung bereit",
        "greeting": "Guten Tag,",
        "ready": "{your_document} liegt in der Abholstation {station} für Sie bereit.",
        "until": "Bitte holen Sie {it} bis {until} ab.",
        "how_qr": "Scannen Sie den QR-Code an der Station.",
        "how_manual": "Oder geben Sie die Abholnummer und die PIN ein:",
        "pickup_number": "Abholnummer",
        "pin": "PIN",
        "dob_note": "Die Station fragt zusätzlich nach Ihrem Geburtsdatum.",
        "return_old_id": "Bitte bringen Sie Ihr altes Dokument mit; die Station nimmt es zurück.",
        "keep_secret": "Halten Sie die PIN geheim. Unsere Mitarbeitenden fragen Sie nie nach Ihrer PIN.",
        "location": "Standort",
        "opening_hours": "Öffnungszeiten",
        "subject_reminder": "Erinnerung: Ihr Dokument wartet auf Sie",
        "reminder": "{your_document} liegt noch bis {until} in der Abholstation {station}.",
        "reminder_codes": (
            "Verwenden Sie den Brief oder die E-Mail, die Sie erhalten haben. "
            "Wenn Sie den Code verloren haben, wenden Sie sich bitte an das Bürgeramt."
        ),
        "footer": "Diese Nachricht wurde automatisch vom Bürgeramt versandt.",
        "letter_title": "Abholung Ihres Dokuments",
        "doc.id_card": "Personalausweis",
        "doc.passport": "Reisepass",
        "doc.eat": "Aufenthaltstitel",
        "doc.certificate": "Bescheinigung",
        "doc.document": "Dokument",
    },
    Language.EN: {
        "subject_ready": "Your document is ready for pickup",
        "greeting": "Hello,",
        "ready": "Your {document} is ready for you at the pickup station {station}.",
        "until": "Please collect it by {until}.",
        "how_qr": "Scan the QR code at the station.",
        "how_manual": "Or enter the pickup number and the PIN:",
        "pickup_number": "Pickup number",
        "pin": "PIN",
        "dob_note": "The station will also ask for your date of birth.",
        "return_old_id": "Please bring your old document; the station will take it back.",
        "keep_secret": "Keep the PIN secret. Our staff will never ask you for your PIN.",
        "location": "Location",
        "opening_hours": "Opening hours",
        "subject_reminder": "Reminder: your document is waiting for you",
        "reminder": "Your {document} is waiting at the pickup station {station} until {until}.",
        "reminder_codes": (
            "Use the letter or e-mail you received. If you have lost the code, please contact the citizens' office."
        ),
        "footer": "This message was sent automatically by the citizens' office.",
        "letter_title": "Collecting your document",
        "doc.id_card": "identity card",
        "doc.passport": "passport",
        "doc.eat": "electronic residence permit",
        "doc.certificate": "certificate",
        "doc.document": "document",
    },
    Language.TR: {
        "subject_ready": "Belgeniz teslim almaya hazır",
        "greeting": "Merhaba,",
        "ready": "{document} belgeniz {station} teslim alma istasyonunda sizi bekliyor.",
        "until": "Lütfen {until} tarihine kadar teslim alın.",
        "how_qr": "İstasyonda QR kodunu okutun.",
        "how_manual": "Veya teslim alma numarasını ve PIN kodunu girin:",
        "pickup_number": "Teslim alma numarası",
        "pin": "PIN",
        "dob_note": "İstasyon ayrıca doğum tarihinizi soracaktır.",
        "return_old_id": "Lütfen eski belgenizi yanınızda getirin; istasyon onu geri alacaktır.",
        "keep_secret": "PIN kodunu gizli tutun. Çalışanlarımız PIN kodunuzu asla sormaz.",
        "location": "Konum",
        "opening_hours": "Açılış saatleri",
        "subject_reminder": "Hatırlatma: belgeniz sizi bekliyor",
        "reminder": "{document} belgeniz {until} tarihine kadar {station} teslim alma istasyonunda bekliyor.",
        "reminder_codes": (
            "Aldığınız mektubu veya e-postayı kullanın. Kodu kaybettiyseniz lütfen vatandaşlık bürosuna başvurun."
        ),
        "footer": "Bu mesaj vatandaşlık bürosu tarafından otomatik olarak gönderilmiştir.",
        "letter_title": "Belgenizin teslim alınması",
        "doc.id_card": "Kimlik kartı",
        "doc.passport": "Pasaport",
        "doc.eat": "Elektronik oturma izni",
        "doc.certificate": "Sertifika",
        "doc.document": "Belge",
    },
    Language.UK: {
        "subject_ready": "Ваш документ готовий до видачі",
        "greeting": "Добрий день,",
        "ready": "Ваш документ ({document}) чекає на вас у станції видачі {station}.",
        "until": "Будь ласка, заберіть його до {until}.",
        "how_qr": "Відскануйте QR-код на станції.",
        "how_manual": "Або введіть номер видачі та PIN-код:",
        "pickup_number": "Номер видачі",
        "pin": "PIN-код",
        "dob_note": "Станція також запитає вашу дату народження.",
        "return_old_id": "Будь ласка, візьміть із собою старий документ; станція прийме його назад.",
        "keep_secret": "Тримайте PIN-код у таємниці. Наші працівники ніколи не запитують ваш PIN-код.",
        "location": "Місцезнаходження",
        "opening_hours": "Години роботи",
        "subject_reminder": "Нагадування: ваш документ чекає на вас",
        "reminder": "Ваш документ ({document}) чекає у станції видачі {station} до {until}.",
        "reminder_codes": (
            "Скористайтеся листом або електронним листом, які ви отримали. "
            "Якщо ви загубили код, зверніться, будь ласка, до бюро громадян."
        ),
        "footer": "Це повідомлення надіслано автоматично бюро громадян.",
        "letter_title": "Отримання вашого документа",
        "doc.id_card": "посвідчення особи",
        "doc.passport": "паспорт",
        "doc.eat": "електронний дозвіл на проживання",
        "doc.certificate": "довідка",
        "doc.document": "документ",
    },
    Language.AR: {
        "subject_ready": "وثيقتك جاهزة للاستلام",
        "greeting": "مرحبًا،",
        "ready": "وثيقتك ({document}) جاهزة لك في محطة الاستلام {station}.",
        "until": "يرجى استلامها قبل {until}.",
        "how_qr": "امسح رمز QR في المحطة.",
        "how_manual": "أو أدخل رقم الاستلام والرقم السري (PIN):",
        "pickup_number": "رقم الاستلام",
        "pin": "الرقم السري (PIN)",
        "dob_note": "ستطلب المحطة أيضًا تاريخ ميلادك.",
        "return_old_id": "يرجى إحضار وثيقتك القديمة؛ ستستلمها المحطة.",
        "keep_secret": "احتفظ بالرقم السري سرًا. لن يطلب منك موظفونا رقمك السري أبدًا.",
        "location": "الموقع",
        "opening_hours": "ساعات العمل",
        "subject_reminder": "تذكير: وثيقتك بانتظارك",
        "reminder": "وثيقتك ({document}) بانتظارك في محطة الاستلام {station} حتى {until}.",
        "reminder_codes": (
            "استخدم الرسالة أو البريد الإلكتروني الذي استلمته. إذا فقدت الرمز، يرجى التواصل مع مكتب خدمة المواطنين."
        ),
        "footer": "أُرسلت هذه الرسالة تلقائيًا من مكتب خدمة المواطنين.",
        "letter_title": "استلام وثيقتك",
        "doc.id_card": "بطاقة الهوية",
        "doc.passport": "جواز السفر",
        "doc.eat": "تصريح الإقامة الإلكتروني",
        "doc.certificate": "الشهادة",
        "doc.document": "الوثيقة",
    },
    Language.RU: {
        "subject_ready": "Ваш документ готов к выдаче",
        "greeting": "Здравствуйте,",
        "ready": "Ваш документ ({document}) ждёт вас в станции выдачи {station}.",
        "until": "Пожалуйста, заберите его до {until}.",
        "how_qr": "Отсканируйте QR-код на станции.",
        "how_manual": "Или введите номер выдачи и PIN-код:",
        "pickup_number": "Номер выдачи",
        "pin": "PIN-код",
        "dob_note": "Станция также запросит вашу дату рождения.",
        "return_old_id": "Пожалуйста, возьмите с собой старый документ; станция примет его обратно.",
        "keep_secret": "Храните PIN-код в тайне. Наши сотрудники никогда не спрашивают ваш PIN-код.",
        "location": "Местоположение",
        "opening_hours": "Часы работы",
        "subject_reminder": "Напоминание: ваш документ ждёт вас",
        "reminder": "Ваш документ ({document}) ждёт вас в станции выдачи {station} до {until}.",
        "reminder_codes": (
            "Воспользуйтесь полученным письмом или электронным письмом. "
            "Если вы потеряли код, обратитесь, пожалуйста, в бюро по делам граждан."
        ),
        "footer": "Это сообщение отправлено автоматически бюро по делам граждан.",
        "letter_title": "Получение вашего документа",
        "doc.id_card": "удостоверение личности",
        "doc.passport": "паспорт",
        "doc.eat": "электронный вид на жительство",
        "doc.certificate": "справка",
        "doc.document": "документ",
    },
    Language.PL: {
        "subject_ready": "Twój dokument jest gotowy do odbioru",
        "greeting": "Dzień dobry,",
        "ready": "Twój dokument ({document}) czeka na Ciebie w stacji odbioru {station}.",
        "until": "Prosimy o odbiór do {until}.",
        "how_qr": "Zeskanuj kod QR na stacji.",
        "how_manual": "Lub wpisz numer odbioru i PIN:",
        "pickup_number": "Numer odbioru",
        "pin": "PIN",
        "dob_note": "Stacja zapyta również o Twoją datę urodzenia.",
        "return_old_id": "Prosimy zabrać ze sobą stary dokument; stacja go przyjmie.",
        "keep_secret": "Zachowaj PIN w tajemnicy. Nasi pracownicy nigdy nie pytają o Twój PIN.",
        "location": "Lokalizacja",
        "opening_hours": "Godziny otwarcia",
        "subject_reminder": "Przypomnienie: Twój dokument czeka na Ciebie",
        "reminder": "Twój dokument ({document}) czeka w stacji odbioru {station} do {until}.",
        "reminder_codes": (
            "Skorzystaj z otrzymanego listu lub e-maila. W razie utraty kodu skontaktuj się z biurem obsługi obywateli."
        ),
        "footer": "Ta wiadomość została wysłana automatycznie przez biuro obsługi obywateli.",
        "letter_title": "Odbiór Twojego dokumentu",
        "doc.id_card": "dowód osobisty",
        "doc.passport": "paszport",
        "doc.eat": "elektroniczne zezwolenie na pobyt",
        "doc.certificate": "zaświadczenie",
        "doc.document": "dokument",
    },
}


def text(language: Language, key: str, **values: str) -> str:
    """The text for ``key`` in ``language``; a missing translation is a KeyError, never a silent fallback."""
    return TEXTS[language][key].format(**values)


# German sentences name the document with its possessive and refer back to it with a pronoun, both agreeing with
# the noun's gender ("Ihr Reisepass … holen Sie ihn ab", "Ihre Bescheinigung … holen Sie sie ab"). The other languages
# are phrased to need no agreement (the noun after a generic "your document", or a language without gender).
_GERMAN_FORMS: dict[str, tuple[str, str]] = {
    "id_card": ("Ihr Personalausweis", "ihn"),
    "passport": ("Ihr Reisepass", "ihn"),
    "eat": ("Ihr elektronischer Aufenthaltstitel", "ihn"),
    "certificate": ("Ihre Bescheinigung", "sie"),
    "document": ("Ihr Dokument", "es"),
}


def document_name(language: Language, kind: str) -> str:
    key = f"doc.{kind}"
    return TEXTS[language][key] if key in TEXTS[language] else TEXTS[language]["doc.document"]


def document_values(language: Language, kind: str) -> dict[str, str]:
    """The placeholders that name the document: ``document`` (the noun), ``your_document`` and ``it`` (German:
    possessive and pronoun of the noun's gender; elsewhere the noun and an empty pronoun, unused)."""
    noun = document_name(language, kind)
    if language == Language.DE:
        your, it = _GERMAN_FORMS.get(kind, _GERMAN_FORMS["document"])
        return {"document": noun, "your_document": your, "it": it}
    return {"document": noun, "your_document": noun, "it": ""}
