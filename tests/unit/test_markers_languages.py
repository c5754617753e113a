# ruff: noqa: RUF001  (phrases of other scripts: Cyrillic, full-width punctuation)
"""Content markers and topics in other languages than English.

* Per language, prompts that must fire each marker (CoT coercion, rubric/grading,
  self-instruct), ordinary chat that must fire none, and a few topics. Written by hand for
  these tests (not taken from any evaluation corpus).
* The RE2 sets give what the Python regexes (the definitions) give, on random Unicode text
  (hypothesis, lone surrogates included), on mixed-script text made of marker phrases of every
  language and near misses, and on long texts (both ends searched, the topic's head).
* The plain parts keep to the syntax both engines read alike; the ASCII fast path leaves out
  only alternatives that ASCII text cannot match.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.core import markers

# language -> marker -> prompts that must fire it; "none" -> ordinary chat that fires nothing.
CASES: dict[str, dict[str, list[str]]] = {
    "zh-Hans": {
        "cot": ["请一步一步地思考并给出推理过程", "让我们逐步推理这个问题。",
                "请写出完整的解题过程",
                "请先分析题目然后回答", "用思维链的方式回答下面的问题", "请解释你的推理",
                "请说明你的思路"],
        "rubric": ["请根据评分标准给这个回答打分", "按1到10分给以下回答评分", "哪个回答更好？",
                   "请评估以下的回答"],
        "self_instruct": ["请生成20个类似的问题", "仿照下面的例子，再写出10道新的数学题",
                          "模仿以下示例，编写50条新的指令"],
        "none": ["今天天气怎么样？", "帮我推荐几家北京的餐厅", "我的电脑出了几个问题，怎么办？",
                 "这个项目正在逐步推进中", "我的订单还没到，能帮我查一下吗？", "你好，请问你是谁？",
                 "等了三到五分钟", "我想提出一个问题",
                 "他在会议上提出了三个问题。", "帮我列出三个周末去处"],
    },
    "zh-Hant": {
        "cot": ["請一步一步地思考並給出推理過程", "請逐步解釋你的推導", "寫出完整的解題過程"],
        "rubric": ["請根據評分標準給這個回答打分", "哪個回答更好？", "請用1至10分評分"],
        "self_instruct": ["請生成20個類似的問題", "仿照以下例子，寫出十道新的題目"],
        "none": ["請問附近有什麼好吃的餐廳？", "我想訂兩張去台北的車票", "謝謝你的幫忙！"],
    },
    "ja": {
        "cot": ["ステップバイステップで考えてください", "段階的に推論して答えてください",
                "途中式も書いてください", "思考過程を説明してください",
                "順を追って説明してください"],
        "rubric": ["この回答を1〜10点で採点してください", "どちらの回答が良いですか？",
                   "評価基準に従って点数をつけてください"],
        "self_instruct": ["以下の例と同様の質問を20個作成してください",
                          "新しい問題を10問作ってください"],
        "none": ["今日の天気はどうですか？", "おすすめのラーメン屋を教えて",
                 "この件について相談したいです",
                 "明日は雨が降るそうです。"],
    },
    "ko": {
        "cot": ["단계별로 생각해 보세요", "풀이 과정을 보여 주세요", "추론 과정을 설명해 주세요",
                "차근차근 설명해 줘"],
        "rubric": ["이 답변을 1점에서 10점 사이로 채점해 주세요", "어느 답변이 더 좋은가요?",
                   "평가 기준에 따라 점수를 매겨 주세요"],
        "self_instruct": ["비슷한 질문을 20개 생성해 주세요", "새로운 문제 10개를 만들어 주세요"],
        "none": ["오늘 날씨 어때요?", "맛있는 김치찌개 만드는 법 알려줘",
                 "문제가 생겼어요. 도와주세요",
                 "주말에 뭐 할까?"],
    },
    "ru": {
        "cot": ["Пошагово объясни, как решить уравнение", "Давай подумаем шаг за шагом",
                "Реши задачу шаг за шагом", "Покажи ход решения", "Объясни свои рассуждения",
                "Обоснуй каждый шаг"],
        "rubric": ["Оцени ответ по шкале от 1 до 10", "Какой ответ лучше?",
                   "Поставь оценку этому сочинению", "Оцени по десятибалльной шкале"],
        "self_instruct": ["Придумай 20 новых вопросов, похожих на эти",
                          "Составь ещё 10 задач, аналогичных примерам"],
        "none": ["Привет! Подскажи хороший фильм на вечер", "Как доехать до вокзала?",
                 "Мы будем внедрять систему поэтапно", "Объясни, почему небо голубое",
                 "Сколько стоит билет в музей?"],
    },
    "es": {
        "cot": ["Piensa paso a paso antes de responder", "Explica tu razonamiento",
                "Muestra tu procedimiento completo", "Razonemos paso a paso",
                "Resuelve el problema paso a paso"],
        "rubric": ["Califica la respuesta en una escala del 1 al 10", "¿Cuál respuesta es mejor?",
                   "Usa estos criterios de evaluación", "Asigna una puntuación a cada respuesta"],
        "self_instruct": ["Genera 20 preguntas nuevas similares a los ejemplos",
                          "Escribe 10 ejercicios nuevos como estos"],
        "none": ["¿Me recomiendas un restaurante barato?", "Receta de tortilla paso a paso",
                 "Explícame cómo llegar al aeropuerto", "Hola, ¿cómo estás?",
                 "Necesito ayuda con mi cuenta de correo"],
    },
    "fr": {
        "cot": ["Réfléchis étape par étape", "Explique ton raisonnement", "Montre tes calculs",
                "Résous ce problème pas à pas"],
        "rubric": ["Note cette réponse sur une échelle de 1 à 10",
                   "Quelle réponse est la meilleure ?",
                   "Attribue une note à chaque copie", "Voici la grille d'évaluation"],
        "self_instruct": ["Génère 20 nouvelles questions similaires aux exemples",
                          "Rédige 10 exercices nouveaux"],
        "none": ["Quel temps fait-il à Paris demain ?",
                 "Un tutoriel pas à pas pour installer Linux",
                 "Peux-tu m'expliquer la différence entre un crédit et un prêt ?",
                 "Bonjour, je cherche un hôtel"],
    },
    "de": {
        "cot": ["Denke Schritt für Schritt", "Erkläre deine Überlegungen", "Zeige deinen Rechenweg",
                "Löse die Aufgabe Schritt für Schritt", "Begründe jeden Schritt"],
        "rubric": ["Bewerte die Antwort auf einer Skala von 1 bis 10", "Welche Antwort ist besser?",
                   "Hier sind die Bewertungskriterien"],
        "self_instruct": ["Erstelle 20 neue Fragen, die den Beispielen ähneln",
                          "Schreibe mehrere neue Aufgaben wie diese"],
        "none": ["Wie wird das Wetter morgen in Berlin?", "Die Preise werden schrittweise erhöht",
                 "Kannst du mir ein gutes Restaurant empfehlen?", "Das Gehalt steigt schrittweise"],
    },
    "pt": {
        "cot": ["Pense passo a passo", "Explique o seu raciocínio", "Resolva passo a passo"],
        "rubric": ["Avalie a resposta numa escala de 1 a 10", "Qual resposta é melhor?",
                   "Atribua uma nota a cada redação"],
        "self_instruct": ["Gere 20 novas perguntas semelhantes aos exemplos",
                          "Crie 10 exercícios novos"],
        "none": ["Qual é a capital da Austrália?", "Receita de bolo passo a passo",
                 "Onde fica a farmácia mais próxima?", "Obrigado pela ajuda!"],
    },
    "it": {
        "cot": ["Ragiona passo dopo passo", "Spiegami il tuo ragionamento",
                "Mostra tutti i passaggi"],
        "rubric": ["Valuta la risposta su una scala da 1 a 10", "Quale risposta è migliore?",
                   "Assegna un punteggio a ogni risposta"],
        "self_instruct": ["Genera 20 nuove domande simili agli esempi", "Scrivi 10 nuovi esercizi"],
        "none": ["Che tempo fa domani a Roma?", "Mi consigli un buon ristorante a Milano?",
                 "Una guida passo dopo passo per montare il mobile", "Ciao, come stai?"],
    },
    "vi": {
        "cot": ["Hãy suy nghĩ từng bước", "Giải thích lập luận của bạn",
                "Trình bày lời giải chi tiết",
                "Giải bài này từng bước một"],
        "rubric": ["Chấm điểm câu trả lời này theo thang điểm 10", "Câu trả lời nào tốt hơn?"],
        "self_instruct": ["Tạo 20 câu hỏi mới tương tự như các ví dụ",
                          "Viết thêm 10 bài tập tương tự"],
        "none": ["Thời tiết hôm nay thế nào?", "Quán phở nào ngon ở Hà Nội?",
                 "Hướng dẫn nấu phở từng bước", "Cảm ơn bạn nhiều!"],
    },
    "ar": {
        "cot": ["فكر خطوة بخطوة", "اشرح طريقة تفكيرك", "اعرض خطوات الحل", "حل المسألة خطوة بخطوة"],
        "rubric": ["قيم الإجابة على مقياس من 1 إلى 10", "أي الإجابتين أفضل؟", "حسب معايير التقييم"],
        "self_instruct": ["اكتب 20 سؤالا جديدا مشابها", "أنشئ 10 أسئلة جديدة مشابهة للأمثلة"],
        "none": ["ما هي عاصمة فرنسا؟", "أين أقرب مطعم؟", "كيف حالك اليوم؟",
                 "أعطني درجة الحرارة غدا"],
    },
}

TOPIC_CASES: list[tuple[str, str]] = [
    ("解方程 x^2-4=0", "math"), ("用Python写一个函数", "code"), ("把这段话翻译成英文", "writing"),
    ("为什么天空是蓝色的", "commonsense"), ("請計算這個方程式", "math"),
    ("この方程式を解いてください", "math"), ("Pythonのコードを書いて", "code"),
    ("이 방정식을 풀어 주세요", "math"), ("파이썬 코드를 작성해 줘", "code"),
    ("Реши уравнение: икс в квадрате равно четырём", "math"), ("Напиши программу на Python",
    "code"),
    ("Почему небо голубое?", "commonsense"),
    ("Resuelve la ecuación", "math"), ("¿Por qué el cielo es azul?", "commonsense"),
    ("Résous l'équation", "math"), ("Traduire ce texte en anglais", "writing"),
    ("Löse die Gleichung", "math"), ("Was kostet ein Kaffee?", "food"),
    ("Resolva a equação", "math"), ("Risolvi l'equazione", "math"),
    ("Giải phương trình", "math"), ("Tôi muốn chuyển khoản", "finance"),
    ("حل المعادلة", "math"), ("اكتب قصيدة عن البحر", "writing"),
    ("Wie viele Tage hat ein Jahr?", "math"), ("Quanti sono i giorni?", "math"),
]

MARKERS = ("cot", "rubric", "self_instruct")


def _marks(text: str) -> tuple[bool, bool, bool, str]:
    m = markers.prompt_markers(text)
    return (m.cot, m.rubric, m.self_instruct, m.topic)


def _reference(text: str) -> tuple[bool, bool, bool, str]:
    """The definitions, applied the straightforward way (Python regexes)."""
    edges = (text if len(text) <= 1600 else text[:1000] + "\n" + text[-600:]).lower()
    cot, rubric, self_instruct, _ = markers.definition_hits(edges)
    _, _, _, topic = markers.definition_hits(text[:600].lower())
    return (cot, rubric, self_instruct, topic)


# --- per language: positives fire their marker, ordinary chat fires none ---------------------

#: A sentence of each language that uses an accented letter (what a real prompt in it nearly
#: always has somewhere): the other languages' phrases count in text with a non-ASCII
#: character only (streamer.core.markers, module docstring).
ACCENTED = {"de": " Wie groß ist die Fläche?", "es": " ¿Cuántos son?",
            "it": " Qual è il risultato?", "fr": " Quelle est la réponse ?",
            "pt": " Qual é a solução?"}


@pytest.mark.parametrize("lang", sorted(CASES))
def test_each_language_fires_each_marker(lang: str) -> None:
    for marker in MARKERS:
        assert CASES[lang][marker], (lang, marker)
        for phrase in CASES[lang][marker]:
            text = phrase + ACCENTED[lang] if phrase.isascii() else phrase
            m = markers.prompt_markers(text)
            assert getattr(m, marker), (lang, marker, text)
            assert _marks(text) == _reference(text)
            assert _marks(phrase) == _reference(phrase)


def test_an_all_ascii_prompt_is_read_by_the_english_phrases_only() -> None:
    """The other languages' unaccented phrases stay out of the English automaton (speed):
    an all-ASCII prompt in Spanish fires no Spanish marker, the same prompt with one accented
    letter does."""
    phrase = CASES["es"]["cot"][0]
    assert phrase.isascii()
    assert not markers.prompt_markers(phrase).cot
    assert markers.prompt_markers(phrase + ACCENTED["es"]).cot


@pytest.mark.parametrize("lang", sorted(CASES))
def test_ordinary_chat_fires_no_marker(lang: str) -> None:
    for text in CASES[lang]["none"]:
        m = markers.prompt_markers(text)
        assert not (m.cot or m.rubric or m.self_instruct), (lang, text, m)


@pytest.mark.parametrize(("text", "topic"), TOPIC_CASES)
def test_topics_in_other_languages(text: str, topic: str) -> None:
    if text.isascii():  # the other languages count in text with a non-ASCII character
        assert markers.prompt_markers(text).topic == _reference(text)[3]
        text += " …"
    assert markers.prompt_markers(text).topic == topic
    assert markers.topic_of(text) == topic


def test_markers_survive_case_and_mixed_scripts() -> None:
    assert markers.prompt_markers("DENKE SCHRITT FÜR SCHRITT").cot
    assert markers.prompt_markers("ПОШАГОВО ОБЪЯСНИ").cot
    assert markers.prompt_markers("Please 一步一步地思考 and answer in English").cot
    assert markers.prompt_markers("Rate this: 请给这个回答打分").rubric
    # A foreign phrase inside English prose does not make English words foreign phrases.
    for text in ("Calculate the calculator's error.", "The commander ordered coffee.",
                 "The cellular energies of a pagoda"):
        assert _marks(text) == _reference(text)


# --- the RE2 sets equal the Python definitions ------------------------------------------------

def _phrases() -> list[str]:
    """Marker phrases of every language, their pieces, and characters that matter."""
    out = [t for cases in CASES.values() for texts in cases.values() for t in texts]
    out += [t for t, _ in TOPIC_CASES]
    pieces = [w for t in out for w in re.split(r"(\s+)", t)]
    specials = ["\u212a", "é", "e\u0301", "ß", "\u00a0", "\u2003", "\u0663", "٠", "²", "_", "'",
                "\n", " ", "-", ",", "。", "，", "？", "؟", "İ", "—", "\ud800", "\udfff", "\x01",
                "\x00", "\x1c", "ё", "Ё", "ǅ", "ﬀ", "１０", "十", "分钟", "分", "\u0301",
                "step by step", "3 + 4", "def ", "```", "python", "rubric", "score from",
                "generate 10 new questions", "similar to the examples", "calcula", "banco",
                "cell", "coffee", "card", "poem", "why do", "true or false", "化学", "咖啡", "银行",
                "Kaffee", "banque", "énigme", "为什么"]
    return out + pieces + specials


_PHRASES = _phrases()


def test_mixed_script_text_matches_the_definitions() -> None:
    r = random.Random(7)
    texts = ["".join(r.choice(_PHRASES) for _ in range(r.randint(0, 12))) for _ in range(6000)]
    texts += [t.upper() for t in texts[:500]] + [t.title() for t in texts[500:1000]]
    wrong = [t for t in texts if _marks(t) != _reference(t)]
    assert not wrong, wrong[:3]
    fired = {name for t in texts for name, on in zip(MARKERS, _marks(t)[:3], strict=True) if on}
    assert fired == set(MARKERS)
    assert {_marks(t)[3] for t in texts} == set(markers.TOPICS)


def test_long_mixed_texts_match_the_definitions() -> None:
    r = random.Random(8)
    for _ in range(300):
        text = ""
        while len(text) < r.choice((601, 1601, 3000)):
            text += r.choice(_PHRASES)
        assert _marks(text) == _reference(text)
        assert markers.topic_of(text) == _reference(text)[3]


_unicode = st.characters(codec=None, categories=None)  # every code point, surrogates included


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=_unicode, max_size=80))
def test_random_unicode_matches_the_definitions(text: str) -> None:
    assert _marks(text) == _reference(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_PHRASES), st.text(alphabet=_unicode, max_size=3)),
                max_size=14))
def test_random_phrases_and_characters_match_the_definitions(parts: list[str]) -> None:
    text = "".join(parts)
    assert _marks(text) == _reference(text)


# --- the syntax rules that make the sets exact ------------------------------------------------

def test_plain_parts_keep_to_the_shared_syntax() -> None:
    for d in (*markers._MARKER_DEFS, *markers._TOPIC_DEFS):
        assert d.ascii.isascii()
        assert markers.check_plain(d.plain) == d.plain
    for bad in (r"\bx", r"\w+", r"\d", "a.b", "a$", "(?=x)", "[\ud800-\udfff]", "[\x00-\x7f]",
                "X", r"\u4e00"):
        with pytest.raises(ValueError):
            markers.check_plain(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F, codec=None, categories=None),
               max_size=60))
def test_alternatives_left_off_the_ascii_path_cannot_match_ascii_text(text: str) -> None:
    low = text.lower()
    for d in (*markers._MARKER_DEFS, *markers._TOPIC_DEFS):
        for branch in markers._branches(d.plain):
            if markers.needs_non_ascii(branch):
                assert not re.search(branch, low)


def test_needs_non_ascii_is_conservative() -> None:
    assert markers.needs_non_ascii("步")
    assert markers.needs_non_ascii("(?:шаг|步)+x")
    assert not markers.needs_non_ascii("(?:шаг|x)")
    assert not markers.needs_non_ascii("[^步]")
    assert not markers.needs_non_ascii("步?x")
    assert not markers.needs_non_ascii("[步a]")
    assert markers.needs_non_ascii("x[步-龥]{1,3}")
    assert not markers.needs_non_ascii("x[步-龥]{0,3}")
    # Every definition's branches split it exactly.
    for d in (*markers._MARKER_DEFS, *markers._TOPIC_DEFS):
        assert "|".join(markers._branches(d.plain)) == d.plain


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_ascii_stand_ins_are_the_per_character_definition(text: str) -> None:
    low = text.lower()
    want = "".join(c if c.isascii() else markers._stand_in(c) for c in low)
    assert markers.ascii_stand_in(low) == want
