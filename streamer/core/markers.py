# ruff: noqa: RUF001, RUF002  (the phrases of other scripts: Cyrillic, full-width punctuation)
"""Content markers of extraction tactics, computed from prompt text in memory.

Patterns are written in lower case and matched against lower-cased text (``str.lower()``,
faster than re.I). Each marker and topic is one Python regex, the definition, made of two
parts (``_Definition``):

* an *ASCII part* (the English phrases): ASCII literals only, and free to use ``\\b``, ``\\d``,
  ``\\s``, ``\\w`` as Python reads them;
* a *plain part* (the phrases of other languages: Chinese simplified and traditional, Japanese,
  Korean, Russian, Spanish, French, German, Portuguese, Italian, Vietnamese, Arabic): any
  literals, but only syntax that Python and RE2 read alike on all text -- literals, classes
  written out (word edges as ``(?:^|[^letters])``), groups, alternation, counted repeats,
  ``^`` and ``\\Z`` -- no ``\\b``/``\\d``/``\\s``/``\\w``, no ``.``, no ``$`` (checked at import).

The definition is found in a text when its ASCII part is, or -- in a text with at least one
non-ASCII character -- its plain part is (:func:`definition_hits`; the Python regexes
``ascii_regex`` and ``regex`` = ``(?:ascii)|(?:plain)``). The plain part is left out of
all-ASCII text on purpose: folded into the English automaton, the other languages' unaccented
alternatives made the English path 1.5x slower warm and 10x slower cold (``make bench``), and
an all-ASCII prompt in another language (an unaccented "piensa paso a paso") is rare. For
speed, every definition is also compiled into RE2 sets (``google-re2``) that answer "which of
these patterns occur?" in one pass:

* ASCII text (nearly all English traffic): one set of the ASCII parts, exact on ASCII text
  (``\\b``, ``\\d``, ``\\s``, ``\\w`` spelled out as Python reads them on ASCII): English costs
  what it did.
* Other text: the ASCII parts run on the text mapped to ASCII one character for one (they have
  no non-ASCII literal, so all that matters about a non-ASCII character is whether Python's
  ``\\d``, ``\\s`` or ``\\w`` match it, and an ASCII stand-in with the same classes -- ``0``,
  ``\\x1c``, ``Z``, ``\\x01`` -- gives the same matches), and the plain parts run on the text
  itself as UTF-8 (lone surrogates, which UTF-8 cannot carry, become ``\\x01``: no plain part
  tells them apart). A definition is found if either set finds its part.

Each marker is a yes/no per prompt; the profile keeps only how often they fire.

The phrases are kept specific: a reasoning verb *and* a step-by-step phrase in one clause
("denke Schritt für Schritt", not "schrittweise" alone), nouns of grading and of generated
items with their verbs, whole words in spaced scripts. Text is not Unicode-normalised (NFD
accents, or Vietnamese typed without them, are missed).

>>> m = prompt_markers("Think step by step and explain your reasoning before answering: 3x+1=7")
>>> m.cot, m.rubric, m.self_instruct, m.topic
(True, False, False, 'math')
>>> prompt_markers("Generate 20 new diverse questions similar to the examples below.").self_instruct
True
>>> prompt_markers("Grade the student's answer using the rubric; give a score from 1-10.").rubric
True
>>> m = prompt_markers("请一步一步地思考并给出推理过程：解方程 3x+1=7")
>>> m.cot, m.rubric, m.self_instruct, m.topic
(True, False, False, 'math')
>>> prompt_markers("Пошагово объясни, как работает этот алгоритм").topic
'code'
>>> prompt_markers("请给这个回答打分，满分10分。").rubric
True
>>> prompt_markers("Genera 20 preguntas nuevas similares a los ejemplos de álgebra.").self_instruct
True
>>> prompt_markers("Was kostet ein Kaffee in München?")
PromptMarkers(cot=False, rubric=False, self_instruct=False, topic='food')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import re2

from streamer.core.kernels import native_kernel

# --- building blocks of the plain parts ----------------------------------------------------

#: Letters (lower case and what ``str.lower()`` leaves), digits and ``_`` of the Latin,
#: Cyrillic and Arabic scripts: a word of these scripts starts after none of them.
_LETTERS = ("0-9_a-zß-öø-ÿ\u0100-\u024f\u0300-\u036f\u1e00-\u1effа-яѐ-џ"
            "\u0621-\u065f\u0660-\u0669\u066e-\u06d3")
_B = "(?:^|[^" + _LETTERS + "])"  # a word starts here
_E = "(?:[^" + _LETTERS + "]|\\Z)"  # a word ended here
#: Within one clause: anything but sentence ends (and the CJK comma and semicolon).
_CLAUSE = "[^.!?。！？؟\n，；]"
#: Han, kana and Hangul: scripts written without spaces.
_CJK = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
#: A count of more than one: digits (ASCII, full width), Chinese numerals or "more".
_NUM_ZH = ("(?:[0-9０-９]+|[二三四五六七八九十两兩][一二三四五六七八九十百千]*"
           "|一[十百千][一二三四五六七八九十百千]*|更多的?)")


def _gap(n: int) -> str:
    """Up to ``n`` characters of the same clause."""
    return _CLAUSE + "{0," + str(n) + "}"


def _any(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


def _words(*alternatives: str) -> str:
    """Whole words (or word starts, for alternatives ending in ``~``) of a spaced script."""
    whole = [a for a in alternatives if not a.endswith("~")]
    stems = [a[:-1] for a in alternatives if a.endswith("~")]
    parts = []
    if whole:
        parts.append(_B + _any(*whole) + _E)
    if stems:
        parts.append(_B + _any(*stems))
    return _any(*parts)


def _steps(verbs: str, step: str, before: int = 40, after: int = 10) -> str:
    """A reasoning verb and a step-by-step phrase in the same clause, either order."""
    return _any(verbs + _gap(before) + step, step + _gap(after) + verbs)


# --- the definitions -------------------------------------------------------------------------

_COT_ASCII = (
    r"step[- ]by[- ]step|show (all )?(your )?(work|reasoning|steps)"
    r"|explain your (reasoning|thought)"
    r"|reasoning (process|trace|steps)|chain[- ]of[- ]thought|think (it )?through|thought process"
    r"|internal reasoning|walk me through|reason (carefully|step)|let'?s think|rationale"
    r"|justify (each|every|your) step"
)
_COT_PLAIN = "|".join((
    # Chinese (simplified and traditional)
    "(?:一步一步|一步步|逐步|分步[骤驟]?|循序[渐漸][进進])地?" + _gap(4)
    + "(?:思考|推理|推[导導]|分析|解[释釋]|解答|[说說]明|[论論][证證]|想一想|求解|[计計]算"
    "|[给給]出|[写寫]出|展示|列出|作答|回答)",
    "(?:推理|思考|思[维維]|解[题題]|推[导導]|[论論][证證]|演算|[计計]算)的?"
    "(?:[过過]程|步[骤驟]|[链鏈]|[轨軌][迹跡])",
    "(?:展示|[给給]出|[写寫]出|[说說]明|解[释釋]|[阐闡]述|分享|列出)(?:你的|一下|下)?"
    "(?:完整|[详詳][细細]|具[体體])?的?(?:推理|思路|推[导導]|解[题題]思路|解[题題]步[骤驟])",
    "(?:每一步|每[个個]步[骤驟])" + _gap(6) + "(?:理由|依[据據]|解[释釋]|[说說]明)",
    "先(?:思考|想清楚|推理|分析)" + _gap(6) + "(?:再|然后|然後)(?:回答|作答|[给給]出答案)",
    # Japanese
    "ステップ・?バイ・?ステップ",
    "(?:段階的に|段階を追って|段階を踏んで|一歩ずつ|一歩一歩|順を追って|順序立てて|ステップごとに)"
    + _gap(8) + "(?:考え|推論|説明|解説|解い|解き|分析|導出|導い|計算|示し|示せ|書い|思考|検討)",
    "(?:推論|思考|推理|解答|導出|計算)の?(?:過程|プロセス|ステップ|手順|筋道)",
    "途中(?:式|の計算|経過)" + _gap(4) + "(?:書|示|見せ|含め|省略せず)",
    "思考の連鎖|思考連鎖|チェーン・?オブ・?ソート",
    "(?:推論|推理|思考過程)(?:を|も)" + _gap(3) + "(?:説明|示|述べ|書|見せ)",
    "考えてから(?:答え|回答)",
    "(?:各|それぞれの)(?:ステップ|段階|手順)" + _gap(6) + "(?:根拠|理由|説明)",
    # Korean
    "(?:단계 ?별로|단계적으로|한 ?단계씩|차근차근|스텝 ?바이 ?스텝)" + _gap(8)
    + "(?:생각|추론|설명|풀|분석|유도|계산|보여|서술|증명|답)",
    "(?:추론|사고|풀이|계산|유도|증명) ?(?:의 )?(?:과정|단계)",
    "(?:생각|사고)의 ?(?:사슬|연쇄)|사고 ?연쇄",
    "추론(?:을|한 내용을|한 과정을)? ?(?:설명|보여|제시|서술|적어)",
    "풀이(?:를|과정을) ?(?:보여|써|적어|설명)",
    "답하기 전에" + _gap(10) + "(?:생각|추론)",
    "각 단계(?:를|마다|의|에 대해)" + _gap(8) + "(?:설명|근거|정당화|이유)",
    # Russian
    _steps(_B + "(?:(?:подумай|думай|рассуждай|порассуждай|размышляй|объясни|поясни|реши|распиши"
           "|покажи|разбери|проанализируй|выведи|обоснуй)(?:те)?|давай(?:те)? (?:подумаем"
           "|порассуждаем|рассуждать|решим|разберём|разберем))" + _E,
           "(?:шаг за шагом|шаг-за-шагом|пошагово|поэтапно|по шагам)", 30),
    "пошагов(?:ое|ым|ого|ую|ом) (?:решени|рассуждени|объяснени|вывод|доказательств)",
    _B + "ход (?:тво[а-яё]* |сво[а-яё]* |ваш[а-яё]* )?(?:рассуждени|мысл|решени)",
    "цепочк[а-яё]* (?:рассуждени|мысл|размышлени)|цеп[ьи] (?:рассуждени|мысл)",
    "(?:процесс|ход) (?:рассуждени|мышлени|размышлени)|мыслительн[а-яё]* процесс",
    _B + "(?:объясн|поясн|покаж|опиш|распиш|изложи)[а-яё]*" + _gap(12)
    + "(?:сво|тво|ваш)[а-яё]* (?:рассуждени|логик|ход мысл|решени)",
    "обоснуй(?:те)? каждый шаг|каждый шаг обоснуй",
    "(?:прежде чем|перед тем как) ответить" + _gap(20)
    + "(?:подумай|порассуждай|рассуждай|проанализируй|поразмысли)",
    "(?:подумай|порассуждай"
    "|поразмысли)(?:те)?" + _gap(12) + "(?:прежде чем|перед тем как) ответить",
    # Spanish
    _steps(_B + "(?:piensa|piense|pensemos|razona|razone|razonemos|resuelve|resuélvelo|resuelva"
           "|explica|explícame|explicame|explique|analiza|analice|desarrolla|deriva|demuestra"
           "|justifica|muestra|muéstrame|muestrame|detalla|procede|reflexiona)" + _E,
           "(?:paso a paso|paso por paso)"),
    "(?:cadena|hilo) de (?:pensamiento|razonamiento)",
    "proceso de (?:razonamiento|pensamiento)",
    _B + "(?:explica|explícame|explicame|muestra|muéstrame|muestrame|detalla|expón|expon|describe"
    "|desarrolla|justifica) (?:todo )?(?:(?:tu|su) (?:razonamiento|procedimiento|desarrollo"
    "|proceso de pensamiento)|el razonamiento)",
    "justifica (?:cada|todos los) paso",
    "antes de responder" + _gap(20)
    + "(?:piensa|razona|reflexiona|analiza|pense|raciocine|reflita|analise)",
    _B + "(?:piensa|razona|reflexiona)" + _gap(12) + "antes de responder",
    # French
    _steps(_B + "(?:r[ée]fl[ée]chi(?:s|ssez|ssons)|raisonn(?:e|ez|ons)|pens(?:e|ez|ons)"
           "|expliqu(?:e|ez)(?:-moi)?|r[ée]sous|r[ée]solvez|d[ée]taill(?:e|ez)|analys(?:e|ez)"
           "|justifi(?:e|ez)|d[ée]montr(?:e|ez)|montr(?:e|ez)(?:-moi)?|proc[èée]d(?:e|ez)"
           "|d[ée]compos(?:e|ez))" + _E,
           "(?:[ée]tape par [ée]tape|pas [àa] pas|[ée]tape apr[èe]s [ée]tape)"),
    "cha[îi]ne de (?:pens[ée]e|raisonnement|r[ée]flexion)",
    _B + "(?:explique|expliquez|montre|montrez|d[ée]taille|d[ée]taillez|d[ée]cris|d[ée]crivez"
    "|pr[ée]sente|pr[ée]sentez|expose|exposez|justifie|justifiez)(?:-moi| moi)? (?:tout )?"
    "(?:ton|votre|le) (?:raisonnement|cheminement|d[ée]marche)",
    "processus de (?:raisonnement|r[ée]flexion|pens[ée]e)",
    "justifie(?:z)? chaque [ée]tape",
    "avant de r[ée]pondre" + _gap(20) + "(?:r[ée]fl[ée]chi|raisonn|analys)",
    _B + "(?:r[ée]fl[ée]chi[sz]?|raisonne[z]?)" + _gap(12) + "avant de r[ée]pondre",
    _B + "montre(?:z)? (?:tous )?(?:tes|vos) calculs|montre(?:z)? ton travail",
    # German
    _steps(_B + "(?:denke?|denken sie|überlege?|ueberlege?|überlegen sie|erkläre?|erklaere?"
           "|erklären sie|erläutere|löse|loese|lösen sie|analysiere|begründe|zeige?|leite"
           "|argumentiere|rechne|gehe?|arbeite)" + _E,
           "(?:schritt f(?:ü|ue)r schritt|schritt-f(?:ü|ue)r-schritt|schrittweise"
           "|schritt um schritt)"),
    "gedankenkette|denkkette|kette von gedanken|argumentationskette",
    _B + "(?:erkläre|erklär|erläutere|zeige|zeig|begründe|beschreibe|lege|leg|stelle)"
    + _gap(8) + "(?:deine|ihre|deinen|ihren|den) (?:überlegungen|gedankengang|gedankengänge"
    "|argumentation|denkweise|lösungsweg|rechenweg|denkprozess)",
    "denkprozess|denkvorgang",
    "begründe(?:n sie)? jeden schritt|jeden schritt begründ",
    "bevor (?:du antwortest|sie antworten)" + _gap(20) + "(?:denk|überleg)",
    _B + "(?:denk|überleg)" + _gap(20) + "bevor (?:du antwortest|sie antworten)",
    # Portuguese
    _steps(_B + "(?:pense|pensa|pensemos|raciocine|raciocina|explique|explica|explique-me|resolva"
           "|resolve|analise|analisa|desenvolva|demonstre|justifique|mostre|mostra|detalhe"
           "|detalha|reflita)" + _E, "(?:passo a passo|passo-a-passo|etapa por etapa)"),
    "cadeia de (?:pensamento|racioc[íi]nio)",
    _B + "(?:explique|explica|mostre|mostra|detalhe|detalha|descreva|apresente|exponha)"
    "(?: me|-me)? (?:todo )?(?:o )?(?:(?:seu|teu) (?:racioc[íi]nio|processo de pensamento"
    "|desenvolvimento)|racioc[íi]nio)",
    "processo de (?:racioc[íi]nio|pensamento)",
    "justifique cada (?:passo|etapa)",
    # Italian
    _steps(_B + "(?:pensa|pensiamo|pensate|ragiona|ragioniamo|ragionate|spiega|spiegami|spiegate"
           "|risolvi|risolvete|analizza|sviluppa|dimostra|giustifica|mostra|mostrami|procedi"
           "|dettaglia|rifletti)" + _E, "(?:passo (?:dopo|per) passo|passo-passo"
           "|un passo alla volta)"),
    "catena di (?:pensier[oi]|ragionament[oi])",
    _B + "(?:spiega|spiegami|mostra|mostrami|illustra|descrivi|esponi|giustifica|dettaglia)"
    " (?:tutto )?(?:il )?(?:(?:tuo|suo) (?:ragionamento|procedimento|processo di pensiero)"
    "|ragionamento)",
    "processo di (?:ragionamento|pensiero)",
    "giustifica (?:ogni|ciascun) passaggio",
    "prima di rispondere" + _gap(20) + "(?:pensa|ragiona|rifletti|analizza)",
    _B + "(?:pensa|ragiona|rifletti)" + _gap(12) + "prima di rispondere",
    _B + "mostra(?:mi)? (?:tutti )?i (?:passaggi|calcoli)",
    # Vietnamese
    _steps(_B + "(?:suy nghĩ|suy luận|lập luận|giải thích|giải|phân tích|trình bày|chứng minh"
           "|tính toán|nghĩ)" + _E, "từng bước", 20),
    "(?:quá trình|quy trình) (?:suy nghĩ|suy luận|lập luận|tư duy)",
    "chuỗi (?:suy nghĩ|suy luận|tư duy|lập luận)",
    _B + "(?:giải thích|trình bày|nêu|thể hiện|cho (?:tôi )?(?:biết|xem)) (?:rõ )?"
    "(?:lập luận|cách suy luận|suy luận|quá trình suy nghĩ|các bước giải|lời giải chi tiết)",
    "trước khi trả lời" + _gap(20) + "(?:suy nghĩ|suy luận|phân tích)",
    "(?:suy nghĩ|suy luận) (?:kỹ|kĩ|cẩn thận)" + _gap(6) + "trước khi trả lời",
    # Arabic
    _steps("(?:فكر|فكّر|فكري|فكروا|لنفكر|حل|حلل|اشرح|إشرح|اشرحي|اشرحوا|وضح|وضّح|برهن|علل|استنتج"
           "|فسر|فسّر|اعرض|بيّن)", "خطوة (?:بخطوة|ب خطوة|خطوة)"),
    "سلسلة (?:الأفكار|الافكار|أفكار|التفكير|الاستدلال|استدلال)",
    "عملية (?:التفكير|الاستدلال|الاستنتاج)|خطوات (?:التفكير|الاستدلال|الحل)",
    "(?:اشرح|إشرح|وضح|وضّح|بيّن|بين|اعرض|أظهر|اظهر)" + _gap(6)
    + "(?:طريقة )?(?:تفكيرك|استدلالك|منطقك|استنتاجك|خطوات حلك)",
    "قبل (?:أن تجيب|ان تجيب|الإجابة|الاجابة)" + _gap(20) + "(?:فكر|فكّر)",
    "(?:برر|برّر|علل|علّل) كل خطوة",
))

_RUBRIC_ASCII = (
    r"rubric|grade (the|this)|score (the|this|from|between|of)|on a scale of|rate (the|this)"
    r"|evaluate the (following |student'?s? )?(response|answer)|criteria|scoring guide"
    r"|assign a (score|grade)|which (response|answer) is better"
)
_ANSWER_ZH = "(?:回答|答案|回复|回覆|答复|答覆|作答|[响響]应|回[应應]|解答)"
_RUBRIC_PLAIN = "|".join((
    # Chinese
    "[评評]分(?:标准|標準|[细細]则|[细細]則|量表|[规規]则|[规規]則)|[评評](?:价|價|判|估)(?:标准|標準)",
    "打分|打[个個]分|[给給]分[标標]准",
    "(?:[给給]|[为為]|[对對])(?:[这這][个個]|[这這]些|以下|下面|下列|[该該]|每[个個])?的?"
    "(?:" + _ANSWER_ZH[3:-1] + "|作文|文章|翻[译譯])" + _gap(10) + "(?:[评評]分|[评評][级級])",
    "[0-9０-９一二三四五六七八九十]+ ?分? ?(?:到|至|-|~|～|－"
    "|—) ?[0-9０-９一二三四五六七八九十百]+ ?分"
    "(?:[^钟鐘鍾]|\\Z)",
    "(?:哪[个個]|哪一[个個])" + _ANSWER_ZH + "(?:更好|更[优優]|更佳|更准确|更準確)",
    _ANSWER_ZH + _gap(12) + "(?:哪[个個]|哪一[个個])(?:更好|更[优優]|更佳)",
    "[评評](?:估|价|價|判)(?:以下|下面|下列|[这這][个個]|[该該])?的?" + _ANSWER_ZH,
    # Japanese
    "採点|評価基準|評価規準|ルーブリック",
    "[0-9０-９]+点?(?:から|〜|～|~|-|－)[0-9０-９]+(?:点|段階)|[0-9０-９]+段階(?:で|の)?評価",
    "点数(?:を|で)?(?:つけ|付け)|スコア(?:を)?(?:つけ|付け)|点を(?:つけ|付け)",
    "(?:回答|応答|答え|解答|返答)(?:を|の質を)評価",
    "どちらの(?:回答|応答|答え|解答)(?:が|の方が)(?:良い|よい|優れ|適切|より)",
    # Korean
    "채점|루브릭|평가 ?기준",
    "[0-9]+ ?점? ?(?:에서|부터|~|-|～) ?[0-9]+ ?점",
    "(?:점수|평점)(?:를|을|로)? ?(?:매겨|매기|주세요|줘|부여)",
    "(?:답변|응답|대답|답안)(?:을|를)? ?평가",
    "어느 (?:쪽 )?(?:답변|응답|대답)이 더 (?:좋|나은|낫|우수|적절)",
    # Russian
    "по (?:[0-9]+-?|десяти|пяти|сто)?(?:балльной |бальной )?шкал[еа] от|по [0-9]+-?(?:балльной"
    "|бальной) шкал",
    "(?:десяти|пяти|сто)бал+ьн[а-яё]* шкал",
    "критери[а-яё]* оценк|критери[а-яё]* оценивани|оценочн[а-яё]* (?:шкал|лист|рубрик)",
    _B + "оцени(?:те)?" + _gap(15) + "(?:ответ|решени)",
    _B + "(?:постав|выстав)[а-яё]* (?:оценк|балл)",
    _B + "как(?:ой|ая|ое) (?:из )?(?:ответ|ответов|вариантов ответа)" + _gap(6) + "лучше",
    # Spanish / Portuguese / Italian
    "rúbrica|r[uú]brica de (?:evaluaci[oó]n|avalia[cç][aã]o|valutazione)"
    "|griglia di (?:valutazione|correzione)",
    _B + "(?:califica|calificar|califique|punt[uú]a|punt[uú]e|eval[uú]a|eval[uú]e|valora"
    "|avalie|avalia|corrija|pontue|classifique|valuta|valutate|correggi|giudica)"
    " (?:la|esta|el|las|estas|cada|a|essa|as|questa|le|queste|ogni) "
    "(?:respuestas?|soluci[oó]n|ensayo|redacci[oó]n|respostas?|solu[cç][aã]o|reda[cç][aã]o"
    "|risposte?|soluzione|elaborato)",
    "escala (?:de|del) [0-9]+ (?:a|al) [0-9]+|scala da [0-9]+ a [0-9]+",
    "criterios de (?:evaluaci[oó]n|calificaci[oó]n|puntuaci[oó]n)"
    "|crit[ée]rios de (?:avalia[cç][aã]o|corre[cç][aã]o)|criteri di (?:valutazione|correzione)",
    _B + "(?:asigna|asígnale|asignale|dale|otorga|atribua|atribui|dê|assegna|attribuisci|dai)"
    " (?:una |uma |un )?(?:puntuaci[oó]n|calificaci[oó]n|nota|pontua[cç][aã]o|punteggio|voto)",
    _B + "(?:cu[aá]l|qu[eé]) (?:de las (?:dos )?)?respuestas? es mejor"
    "|qual (?:das )?(?:duas )?respostas? (?:é|e) melhor"
    "|quale (?:delle (?:due )?)?rispost[ae] [èe] (?:la )?migliore",
    # French
    "grille d['’](?:[ée]valuation|notation|correction)|bar[èe]me de (?:notation|correction)",
    _B + "(?:note|notez|[ée]value|[ée]valuez|corrige|corrigez)"
    " (?:la|cette|les|ces|chaque) (?:r[ée]ponses?|copie|dissertation|r[ée]daction|solution)",
    "[ée]chelle de [0-9]+ [àa] [0-9]+|" + _B + "not(?:e|ez|er) sur (?:5|10|20|100)" + _E,
    "crit[èe]res d['’](?:[ée]valuation|notation)",
    _B + "(?:attribue|attribuez|donne|donnez|mets|mettez)(?:-lui| lui)? une note",
    "quelle r[ée]ponse est (?:la )?meilleure|laquelle des (?:deux )?r[ée]ponses est",
    # German
    "bewertungs(?:raster|schema|kriterien|maßstab|bogen)|benotungskriterien",
    _B + "(?:bewerte|bewerten sie|benote|benoten sie|beurteile|beurteilen sie)"
    " (?:die|diese|jede|folgende|die folgende) (?:antwort|antworten|lösung|aufsatz|arbeit)",
    "skala von [0-9]+ bis [0-9]+",
    _B + "(?:vergib|vergeben sie|gib|geben sie)" + _gap(10) + "(?:punktzahl|eine note|schulnote)",
    "welche (?:der (?:beiden )?)?antwort(?:en)? ist besser",
    # Vietnamese
    "chấm điểm|thang điểm|tiêu chí (?:đánh giá|chấm)",
    "(?:đánh giá|nhận xét) (?:các )?(?:câu trả lời|bài làm|phản hồi)",
    _B + "cho điểm" + _E + "|từ [0-9]+ (?:đến|tới) [0-9]+ điểm",
    "câu trả lời nào (?:tốt|hay|đúng|chính xác) hơn",
    # Arabic
    "(?:قيّم|قيم|قيمي|صحح|صحّح|قدّر)" + _gap(6)
    + "(?:الإجابة|الاجابة|الإجابات|الاجابات|الرد|الحل|الجواب|الأجوبة|الاجوبة)",
    "مقياس (?:من )?[0-9٠-٩]+",
    "معايير (?:التقييم|التصحيح|التقدير)|سلم (?:التقييم|التصحيح|التقدير)|شبكة التقييم",
    "(?:أعط|اعط|أعطِ|امنح)(?:ها|ه)? (?:درجة|علامة|تقييما|تقييمًا) (?:من|بين)",
    "(?:أي|أيّ) (?:الإجابتين|الاجابتين|الإجابات|الاجابات|الردين|الردود|إجابة|اجابة) (?:أفضل|افضل)",
))

_SELF_INSTRUCT_ASCII = (
    r"(generate|write|create|come up with|produce|list) (\d+|a list of|several|many|more|new)"
    r"[\w ,-]{0,40}(questions|tasks|instructions|prompts|examples|problems|exercises)"
    r"|similar to the (examples|tasks|questions)|new (task|instruction)s?\b"
)
_ITEMS_ZH = ("(?:[问問][题題]|[题題]目|[试試][题題]|[习習][题題]|[练練][习習][题題]|指令|任[务務]"
             "|示例|例子|[样樣]例|例[题題]|提示[词詞]|[对對][话話])")
_ITEMS_JA = "(?:質問|問題|タスク|指示|命令|例題|プロンプト|練習問題|設問)"
_ITEMS_KO = "(?:질문|문제|과제|지시문|명령어|예시|예제|프롬프트|문항)"
_SELF_INSTRUCT_PLAIN = "|".join((
    # Chinese
    "(?:生成|[编編][写寫]|[写寫]出|列出|[设設][计計]|[创創]建|[创創]作|想出|[给給]出|提出)"
    + "[^.!?。！？؟\n，；了过過]{0,8}"  # not a past "提出了三个问题"
    + _NUM_ZH + " ?(?:[个個道条條组組套]|种|種)?" + _gap(12) + _ITEMS_ZH,
    "(?:[写寫]|出)" + _NUM_ZH + " ?(?:[个個道条條组組套]|种|種)" + _gap(12) + _ITEMS_ZH,
    "(?:生成|[编編][写寫]|[写寫]出|[写寫]|出|[设設][计計]|[创創]作|想出|[给給]出)" + _NUM_ZH
    + " ?道" + _gap(12) + "[题題]",  # "出10道(数学)题"
    "(?:[类類]似|仿照|[参參]照|模仿)" + _gap(20)
    + "(?:生成|[编編][写寫]|[写寫]|出|[创創]建|[设設][计計]|[创創]作)" + _gap(12)
    + "(?:新的?|更多|[0-9０-９一二三四五六七八九十]+)" + _gap(8) + _ITEMS_ZH,
    "(?:仿照|模仿)(?:上述|以下|下面|下列|[这這]些)?的?(?:示例|例子|[样樣]例|例[题題]|[问問][题題]|[题題]目)",
    # Japanese
    _ITEMS_JA + _gap(12) + "(?:[0-9０-９]+|[一二三四五六七八九十百]+)(?:個|問|件|つ|題)" + _gap(8)
    + "(?:生成|作成|作って|作り|考えて|書いて|出して|挙げて)",
    "(?:[0-9０-９]+|[一二三四五六七八九十百]+)(?:個|問|件|つ|題)の" + _gap(15) + _ITEMS_JA
    + _gap(10) + "(?:生成|作成|作って|作り|考えて|書いて|出して|挙げて)",
    "(?:と同様の|のような|に似た|類似の|似たような|新しい|新たな)" + _gap(6) + _ITEMS_JA + _gap(15)
    + "(?:生成|作成|作って|作り|考えて|書いて|出して|挙げて)",
    # Korean
    "(?:비슷한|유사한|새로운) (?:" + _ITEMS_KO[3:-1] + ")" + _gap(15)
    + "(?:생성|만들|작성|써|출제)",
    "[0-9]+ ?(?:개|가지"
    "|문항)의? ?" + _gap(10) + _ITEMS_KO + _gap(10) + "(?:생성|만들|작성|써|출제)",
    _ITEMS_KO + "(?:를|을)? ?[0-9]+ ?(?:개|가지|문항)" + _gap(6) + "(?:생성|만들|작성|써|출제)",
    # Russian
    _B + "(?:сгенерируй|придумай|составь|напиши|создай|сформулируй|предложи)(?:те)? "
    + _gap(10) + "(?:[0-9]+|несколько|ещё|еще|десять|двадцать|пять|новы[ех]|список)" + _gap(40)
    + "(?:вопрос|задач|задани|инструкци|пример|промпт|упражнени)",
    "(?:похож|аналогичн|подобн)[а-яё]* (?:на )?(?:эти |приведённые |приведенные |данные )?"
    "(?:пример|вопрос|задач|задани)" + _gap(30) + "(?:сгенерируй|придумай|составь|напиши|создай)",
    _B + "(?:сгенерируй|придумай|составь|напиши|создай)(?:те)?" + _gap(30)
    + "(?:похож|аналогичн|подобн)[а-яё]* (?:на )?(?:эти |приведённые |приведенные |данные )?"
    "(?:пример|вопрос|задач|задани)",
    # Spanish
    _B + "(?:genera|generar|escribe|crea|inventa|propón|propon|redacta|elabora|haz)" + _E + _gap(10)
    + "(?:[0-9]+|varias|varios|más|mas|nuevas|nuevos|una lista de|diez|veinte|otras"
    "|otros)" + _gap(40)
    + "(?:preguntas|tareas|instrucciones|ejemplos|problemas|ejercicios|prompts|enunciados)",
    "similares a (?:los|las|estos|estas) (?:ejemplos|preguntas|tareas|problemas|ejercicios)",
    # French
    _B + "(?:génère|genere|générer|generer|écris|ecris|crée|cree|invente|propose|rédige|redige"
    "|formule|donne-moi)" + _E + _gap(10)
    + "(?:[0-9]+|plusieurs|nouvelles|nouveaux|d['’]autres|dix|vingt|une liste de)" + _gap(40)
    + "(?:questions|tâches|taches|instructions|exemples|problèmes|problemes|exercices|prompts"
    "|consignes)",
    "(?:similaires|semblables|analogues) (?:aux|à ces|a ces) (?:exemples|questions|tâches"
    "|exercices)",
    # German
    _B + "(?:generiere|erstelle|erzeuge|schreibe|schreib|erfinde|formuliere|entwirf"
    "|nenne)" + _E + _gap(10)
    + "(?:[0-9]+|mehrere|weitere|neue|zehn|zwanzig|eine liste)" + _gap(40)
    + "(?:fragen|aufgaben|anweisungen|beispiele|probleme|übungen|prompts)",
    "ähnlich(?:e|en)? (?:wie )?(?:den |die |diesen )?(?:beispielen|beispiele|fragen|aufgaben)"
    + _gap(30) + "(?:generier|erstell|erzeug|schreib|erfinde|formulier)",
    # Portuguese
    _B + "(?:gere|gerar|escreva|crie|invente|elabore|proponha|formule)" + _E + _gap(10)
    + "(?:[0-9]+|várias|varias|vários|varios|mais|novas|novos|uma lista de|dez|vinte|outras|outros)"
    + _gap(40) + "(?:perguntas|questões|questoes|tarefas|instruções|instrucoes|exemplos|problemas"
    "|exercícios|exercicios|prompts)",
    "(?:semelhantes|parecid[ao]s|similares) (?:aos|às|as|a estes|a estas|com os|com as) "
    "(?:exemplos|perguntas|questões|tarefas)",
    # Italian
    _B + "(?:genera|generare|scrivi|crea|inventa|proponi|formula|elabora)" + _E + _gap(10)
    + "(?:[0-9]+|diverse|diversi|altre|altri|nuove|nuovi|un elenco di|una lista di|dieci|venti)"
    + _gap(40) + "(?:domande|compiti|istruzioni|esempi|problemi|esercizi|prompt|quesiti)",
    "simili (?:agli|alle|a questi|a queste) (?:esempi|domande|compiti|esercizi)",
    # Vietnamese
    _B + "(?:tạo|viết|đặt|soạn|nghĩ ra|đưa ra|liệt kê|sinh)(?: ra)? " + _gap(10)
    + "(?:[0-9]+|một số|nhiều|thêm|mười|hai mươi)" + _gap(30)
    + "(?:câu hỏi|bài tập|bài toán|nhiệm vụ|chỉ dẫn|ví dụ|đề bài|prompt)",
    "tương tự (?:như )?(?:các|những) (?:ví dụ|câu hỏi|bài tập|bài toán)",
    # Arabic
    "(?:أنشئ|انشئ|اكتب|ولّد|ولد|أنتج|انتج|اقترح|صغ|ضع|أعطني|اعطني)" + _gap(15)
    + "(?:[0-9٠-٩]+|عدة|عشرة|عشرين|مجموعة من|المزيد من|قائمة)" + _gap(30)
    + "(?:أسئلة|اسئلة|سؤال|مهام|مهمة|تعليمات|أمثلة|امثلة|مسائل|تمارين|مطالبات)",
    "(?:أسئلة|اسئلة|أمثلة|امثلة|مسائل|مهام|تمارين) (?:جديدة )?(?:مشابهة|مماثلة)",
))

_TOPIC_ASCII: tuple[tuple[str, str], ...] = (
    ("code", r"\bdef |```|\bfunction\b|\bpython\b|\bjava(script)?\b|\bsql\b"
             r"|\bcode\b|\bimplement|\bclass |\bregex|\bcompile|\balgorithm"
             r"|\bbash\b|\bapi\b"),
    ("math", r"\d+\s*[-+*/x=]\s*\d+|\bsolve\b|\bequation|\bcalculate|\bhow many\b"
             r"|\bprobability|\bpercent|\bsum of\b|\bintegral|\bfraction"),
    ("logic", r"\btrue or false\b|\bwhich of the following\b|\boptions?:|\bimplies\b"
              r"|\bpremise|\bhypothesis|\bentail|\bsyllogism|\bpuzzle"),
    ("science", r"\bphysics|\bchemi|\bbiolog|\batom|\bcell\b|\benergy\b|\bspecies"
                r"|\bplanet|\bmolecule"),
    ("finance", r"\bcard\b|\baccount\b|\btransfer|\bbank|\brefund|\bpayment"
                r"|\bbalance|\bcharge|\bexchange rate|\bwithdraw"),
    ("food", r"\bcoffee|\blatte|\bespresso|\brecipe|\border\b|\bcup\b|\bmilk\b"
             r"|\bsize\b|\bcappuccino"),
    ("writing", r"\bwrite (a|an|me)\b|\bessay|\bpoem|\bstory|\bemail|\bsummar"
                r"|\brewrite|\bparagraph|\bletter\b|\btranslate"),
    ("commonsense", r"\bwhy (do|does|is|are)\b|\bwhat happens\b|\bwould you\b"
                    r"|\bcan a\b|\bis it possible\b"),
)
_TOPIC_PLAIN: dict[str, str] = {
    "code": "|".join((
        "代[码碼]|[编編]程|程序(?:[员員]|[设設][计計]|[错錯][误誤])|[编編][写寫]程序|小程序|程式[码碼设設計计]|算法|演算法|脚本|腳本|[编編][译譯]|正[则則]表[达達]式"
        "|[数數]据[库庫]|資料庫",
        "(?:[编編][写寫]|[写寫]|[实實][现現])" + _gap(6) + "函[数數]",
        _CJK + "(?:python|javascript|java|sql|bash|api|c\\+\\+|html|css)"
        "|(?:python|javascript|java|sql|bash|c\\+\\+|html|css)" + _CJK,
        "コード|プログラム|アルゴリズム|スクリプト|コンパイル|正規表現|データベース|実装|関数を(?:実装|書|作)",
        "코드|프로그램|프로그래밍|알고리즘|스크립트|컴파일|정규 ?표현식|데이터베이스|구현"
        "|함수를 ?(?:작성|구현|만들)",
        _words("код", "кода", "коде", "кодом", "программирован~", "алгоритм~", "скрипт~",
               "компилир~", "компилятор~", "реализуй", "реализуйте", "напиши программу",
               "напишите программу", "регулярн~"),
        _words("código", "codigo", "programación~", "programacion~", "algoritmo~",
               "implementa un", "implementa una", "expresión regular", "expresion regular",
               "escribe una función",
               "programmation~", "algorithme~", "implémente~", "écris une fonction",
               "expression régulière", "programmier~", "algorithmus~", "implementier~",
               "schreibe eine funktion", "regulärer ausdruck", "kompilier~", "skript~",
               "programação~", "programacao~", "escreva uma função", "expressão regular",
               "il codice", "del codice", "codice sorgente", "programmazione~",
               "scrivi una funzione", "espressione regolare",
               "lập trình", "thuật toán", "mã nguồn", "đoạn mã", "viết code", "viết hàm",
               "biểu thức chính quy", "biên dịch"),
        "برمجة|البرمجة|كود|الكود|شفرة|الشيفرة|خوارزمي|اكتب دالة|بايثون|جافا سكريبت|تعبير نمطي",
    )),
    "math": "|".join((
        "方程|求解|[计計]算(?:[^机機]|\\Z)|概率|[几幾]率|百分比|[导導][数數]|微分|求[导導]|函[数數]|[几幾]何"
        "|代[数數]|多少[个個]|求和|矩[阵陣]|不等式|[数數]学[题題]|[质質][数數]|素[数數]|平方根|斜率",
        "方程式|解いて|計算|確率|パーセント|百分率|積分|分数|微分|関数|何個|幾何|代数|行列|不等式"
        "|素数|平方根|数学",
        "방정식|문제를 ?풀어|계산(?:해|하|을|식)|확률|퍼센트|백분율|적분|미분|함수|몇 개|기하학"
        "|행렬|부등식|제곱근|수학",
        _words("уравнени~", "вычисл~", "вероятност~", "процент~", "интеграл~", "дроб~",
               "производн~", "математи~", "теорем~", "неравенств~", "логарифм~", "сколько будет",
               "реши задачу", "реши уравнение", "решите задачу", "решите уравнение"),
        _words("ecuaci~", "resuelve", "resuelva", "calcula el", "calcula la", "calcule", "calcular",
               "probabilidad~", "porcentaje~", "por ciento", "fracción~", "fracciones",
               "derivada~", "cuántos", "cuántas", "cuantos", "cuantas", "matemátic~",
               "teorema~", "inecuaci~",
               "équation~", "résous", "résoudre", "résolvez", "calculer", "calculez",
               "probabilité~", "pourcentage~", "pour cent", "intégrale~", "dérivée~",
               "combien de", "mathémati~", "théorème~", "inéquation~",
               "gleichung~", "löse", "lösen sie", "berechne~", "wahrscheinlichkeit~",
               "prozent~", "ableitung~", "wie viele", "mathematik~", "mathematisch~",
               "ungleichung~",
               "bruchrechn~", "brüche",
               "equação", "equações", "resolva", "probabilidade~", "porcentagem~",
               "percentagem~", "por cento", "fração", "frações", "quantos", "quantas",
               "inequação~",
               "equazion~", "risolvi", "risolvere", "calcola", "calcolare", "probabilità",
               "percentuale~", "per cento", "integrale~", "frazion~", "derivata~", "quanti sono",
               "quante sono", "matematic~", "disequazion~",
               "phương trình", "xác suất", "phần trăm", "tích phân", "phân số", "đạo hàm",
               "có bao nhiêu", "hàm số", "toán học", "bài toán", "định lý", "bất phương trình",
               "giải phương trình", "tính giá trị"),
        "معادلة|المعادلة|احسب|إحسب|احتمالية|نسبة مئوية|بالمئة|في المئة|تكامل|التكامل|الكسور|كسور"
        "|مشتقة|المشتقة|كم عدد|رياضيات|الرياضيات|مبرهنة|متباينة",
    )),
    "logic": "|".join((
        "真[还還]是假|[对對][还還]是[错錯]|判[断斷][对對][错錯]|以下哪|下列哪|[选選]项[:：]|選項[:：]|推[论論]"
        "|[蕴蘊]含|三段[论論]|[谜謎][题題]",
        "正しいか誤りか|真か偽か|次のうちどれ|以下のうちどれ|選択肢[:：]|含意|三段論法|パズル",
        "참인지 거짓인지|참 (?:또는|혹은) 거짓|다음 중 (?:어느|무엇|어떤)|보기[:：]|선택지[:：]"
        "|함의|삼단논법|퍼즐",
        _words("правда или ложь", "верно или неверно", "истинно или ложно", "какое из следующих",
               "какой из следующих", "что из следующего", "посылк~", "силлогизм~",
               "головоломк~", "логическ~"),
        _words("verdadero o falso", "cuál de las siguientes", "cual de las siguientes",
               "cuál de los siguientes", "premisa~", "silogismo~", "acertijo~",
               "rompecabezas", "implica que",
               "vrai ou faux", "laquelle des propositions", "lequel des suivants",
               "parmi les propositions", "prémisse~", "énigme~", "casse-tête~",
               "wahr oder falsch", "welche der folgenden", "welcher der folgenden",
               "welches der folgenden", "prämisse~", "rätsel~", "daraus folgt",
               "verdadeiro ou falso", "qual das seguintes", "qual dos seguintes", "premissa~",
               "charada~",
               "vero o falso", "quale delle seguenti", "quale dei seguenti", "premessa~",
               "sillogismo~", "indovinell~", "rompicapo",
               "đúng hay sai", "nào sau đây", "tiền đề", "tam đoạn luận", "câu đố", "suy ra"),
        "(?:opciones|opções|opzioni|optionen|варианты(?: ответа)?|các lựa chọn|الخيارات)[:：]",
        "صح أم خطأ|صواب أم خطأ|أي مما يلي|أيّ مما يلي|أي من التالي|قياس منطقي|لغز|ألغاز|الغاز",
    )),
    "science": "|".join((
        "物理|化学|化學|生物|原子|[细細]胞|物[种種]|行星|量子",
        "化学|原子|細胞|エネルギー|惑星|量子",
        "물리학|화학|생물|원자|세포|에너지|행성|양자",
        _words("физик~", "химия", "химии", "химич~", "биолог~", "атом~", "энерги~", "планет~",
               "молекул~", "квантов~", "клеточн~",
               "química~", "quimica~", "biología~", "biologia~", "átomo~", "célula~",
               "molécula~", "planetas", "especies",
               "chimie~", "biologie~", "atome~", "cellule", "cellules", "énergie~", "planète~",
               "molécule~",
               "physik~", "chemie~", "die energie", "der energie", "energien", "molekül~",
               "química", "átomos", "energia~", "molécula",
               "chimica~", "cellule", "pianet~", "molecol~", "atomo~",
               "vật lý", "hóa học", "sinh học", "nguyên tử", "tế bào", "năng lượng",
               "hành tinh", "phân tử"),
        "فيزياء|الفيزياء|كيمياء|الكيمياء|علم الأحياء|الذرات|ذرات|الخلايا|طاقة|الطاقة|كوكب|الكواكب"
        "|جزيء|الجزيئات",
    )),
    "finance": "|".join((
        "[银銀]行|信用卡|[账賬帳]户|[账賬帳]戶|[转轉][账賬帳]|退款|付款|支付|[余餘]額|[余餘]额|扣[费費]|[汇匯]率"
        "|取款|提[现現]",
        "カード|口座|振込|振り込み|送金|返金|支払|残高|請求|為替|引き出し|引き落とし",
        "카드|계좌|이체|송금|은행|환불|결제|잔액|잔고|청구|환율|출금",
        _words("банк~", "банковск~", "кредитк~", "по карте", "с карты", "на карту", "сч[её]т",
               "сч[её]та", "возврат~", "платеж~", "платёж~", "оплат~", "баланс~", "списан~",
               "курс валют~", "перевод денег", "перевести деньги", "снять деньги",
               "tarjeta~", "cuenta bancaria", "mi cuenta", "transferencia~", "el banco", "mi banco",
               "del banco", "banco de", "o banco", "do banco", "meu banco",
               "reembolso~", "devolución~", "el pago", "mi pago", "pagos", "saldo~",
               "tipo de cambio", "retirar dinero",
               "carte bancaire", "carte de crédit", "compte bancaire", "mon compte", "virement~",
               "banque", "banques", "remboursement~", "paiement~", "mon solde", "le solde",
               "solde du", "prélèvement~",
               "taux de change", "retrait~",
               "kreditkarte~", "bankkarte~", "girokarte~", "konto~", "überweisung~",
               "rückerstattung~", "zahlung~", "kontostand~", "guthaben~", "abbuchung~",
               "wechselkurs~", "abheben", "abhebung~",
               "cartão", "conta bancária", "minha conta", "transferência~", "pagamento~",
               "cobrança~", "taxa de câmbio", "saque~",
               "carta di credito", "bancomat~", "conto corrente", "il mio conto", "bonifico~",
               "la banca", "in banca", "rimborso~", "addebito~", "tasso di cambio", "prelievo~",
               "thẻ ngân hàng", "thẻ tín dụng", "tài khoản", "chuyển khoản", "chuyển tiền",
               "ngân hàng", "hoàn tiền", "thanh toán", "số dư", "tỷ giá", "rút tiền"),
        "بطاقة|البطاقة|حساب بنكي|حسابي البنكي|حسابي في|بنك|البنك|مصرف|المصرف|استرداد|الدفع|رصيد"
        "|الرصيد|سعر الصرف"
        "|تحويل (?:الأموال|المبلغ|مبلغ|أموال)|سحب (?:المال|الأموال|نقود|مبلغ)",
    )),
    "food": "|".join((
        "咖啡|拿[铁鐵]|[浓濃][缩縮]|食[谱譜]|菜[谱譜]|[点點]单|[点點]單|下[单單]|[订訂][单單]|一杯|大杯|中杯|小杯|杯子"
        "|牛奶|卡布奇[诺諾]",
        "コーヒー|ラテ|エスプレッソ|レシピ|注文|カップ|牛乳|ミルク|サイズ|カプチーノ",
        "커피|라떼|에스프레소|레시피|주문|컵|우유|사이즈|카푸치노",
        _words("кофе", "латте", "эспрессо", "рецепт~", "заказ~", "чашк~", "молок~", "размер~",
               "капучино",
               "café", "cafés", "receta~", "pedido~", "taza~", "de leche", "con leche", "tamaño~",
               "capuchino~",
               "recette~", "ma commande", "la commande", "une commande", "commandes", "une tasse",
               "tasses", "du lait", "au lait", "de lait",
               "taille",
               "kaffee~", "rezept~", "bestellung~", "bestellen", "eine tasse", "die milch",
               "mit milch", "größe~",
               "grösse~",
               "receita~", "xícara~", "chávena~", "um copo", "copo de", "leite~", "tamanho~",
               "caffè", "ricetta~", "ordine", "ordinare", "tazza~", "taglie",
               "cà phê", "công thức nấu", "đặt hàng", "đơn hàng", "cốc", "sữa", "cỡ"),
        "قهوة|القهوة|لاتيه|إسبريسو|اسبريسو|وصفة|طلبية|كوب|حليب|الحليب|كابتشينو",
    )),
    "writing": "|".join((
        "[写寫]一篇|[写寫]一首|[写寫]一封|作文|文章|[诗詩]|故事|[邮郵]件|[总總][结結]|摘要|改[写寫]|段落|一封信"
        "|翻[译譯]",
        "書いて|作文|エッセイ|物語|ストーリー|メール|要約|まとめて|書き直|段落|手紙|翻訳|訳して",
        "글을 ?써|에세이|스토리|이메일|메일|요약|다시 ?써|문단|단락|편지|번역",
        _words("напиши мне", "напишите мне", "эссе", "стих~", "рассказ", "рассказа", "письм~",
               "резюмир~", "перескаж~", "перепиш~", "абзац~", "переведи", "переведите",
               "сочинени~",
               "escribe un", "escribe una", "escríbeme", "escribeme", "ensayo~", "poema~",
               "cuento~", "correo~", "resumen~", "resumir", "resúmelo", "reescrib~",
               "párrafo~", "parrafo~", "traduce", "traducir", "traducción~",
               "écris un", "écris une", "écris-moi", "rédige~", "essai~",
               "poème~", "un conte", "contes", "courriel~", "résum~", "réécri~", "lettre~",
               "traduis", "traduire", "traduction~",
               "schreibe einen", "schreibe eine", "schreibe ein", "schreib mir", "aufsatz~",
               "gedicht~", "erzählung~", "zusammenfass~", "umschreiben", "absatz~",
               "übersetz~",
               "escreva um", "escreva uma", "escreva-me", "redação~", "ensaio~", "contos",
               "resumo~", "reescrev~", "parágrafo~", "traduza", "traduzir", "tradução~",
               "scrivi un", "scrivi una", "scrivi uno", "scrivimi", "saggio~", "poesia~",
               "racconto~", "riassun~", "riscriv~", "paragrafo~", "lettera~", "traduci",
               "tradurre", "traduzione~",
               "viết một", "viết cho tôi", "bài luận", "bài văn", "bài thơ", "câu chuyện",
               "truyện", "tóm tắt", "viết lại", "đoạn văn", "lá thư", "bức thư", "viết thư",
               "bản dịch", "dịch sang", "dịch đoạn", "dịch câu"),
        "اكتب (?:مقال|قصيدة|قصة|رسالة|بريد|فقرة|نص)|مقالة|قصيدة|قصة|بريد إلكتروني|ايميل|إيميل|لخص"
        "|ملخص|تلخيص|أعد كتابة|اعد كتابة|أعد صياغة|اعد صياغة|فقرة|ترجم",
    )),
    "commonsense": "|".join((
        "[为為]什[么麼]|[为為]何|[会會][发發]生什[么麼]|是否可能",
        "なぜ|どうして|何が起こる|何が起きる|ありえますか|可能ですか",
        "왜|무슨 일이 일어|가능한가|가능할까",
        _words("почему", "зачем", "что будет, если", "что произойдёт", "что произойдет",
               "возможно ли", "может ли",
               "por qué", "porqué", "qué pasa si", "qué pasaría", "que pasaria", "qué sucede",
               "es posible",
               "pourquoi", "que se passe-t-il", "que se passerait-il", "est-il possible",
               "peut-on",
               "warum", "wieso", "weshalb", "was passiert", "was würde passieren",
               "ist es möglich",
               "por que", "o que acontece", "o que aconteceria", "é possível",
               "perché", "cosa succede", "cosa succederebbe", "è possibile",
               "tại sao", "vì sao", "điều gì xảy ra", "điều gì sẽ xảy ra", "liệu có thể"),
        "لماذا|ماذا يحدث|ماذا سيحدث|هل يمكن (?:أن|ان|ل)|هل من الممكن",
    )),
}
@dataclass(frozen=True, slots=True)
class PromptMarkers:
    cot: bool
    rubric: bool
    self_instruct: bool
    topic: str


_ASCII_CLASSES = {
    # Inside a character class / outside one: what Python's escapes match on ASCII text.
    "d": ("0-9", "[0-9]"),
    "s": ("\\t\\n\\x0b\\f\\r\\x1c-\\x1f ", "[\\t\\n\\x0b\\f\\r\\x1c-\\x1f ]"),
    "w": ("0-9A-Za-z_", "[0-9A-Za-z_]"),
}


def ascii_re2(pattern: str) -> str:
    """An RE2 pattern that matches exactly where the Python ``pattern`` does on ASCII text.

    RE2's ``\\b`` is ASCII already; ``\\d``/``\\s``/``\\w`` are spelled out (RE2's ``\\s`` lacks
    ``\\x0b`` and ``\\x1c``-``\\x1f``, which Python's includes); Python's ``\\Z`` is RE2's ``\\z``.

    >>> ascii_re2(r"\\d+\\s*[\\w ,-]{0,4}\\b")
    '[0-9]+[\\\\t\\\\n\\\\x0b\\\\f\\\\r\\\\x1c-\\\\x1f ]*[0-9A-Za-z_ ,-]{0,4}\\\\b'
    >>> ascii_re2(r"x(?:[^a]|\\Z)")
    'x(?:[^a]|\\\\z)'
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _ASCII_CLASSES:
                out.append(_ASCII_CLASSES[nxt][0 if in_class else 1])
            elif nxt == "Z" and not in_class:
                out.append("\\z")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


#: Escapes of the plain parts: punctuation (a literal in both engines), ``\\Z`` and ``\\n``.
_PLAIN_ESCAPES = frozenset("\\.^$|?*+()[]{}-/'\"!#&~=<>,:;@%` nZ")


def check_plain(pattern: str) -> str:
    """``pattern`` if Python and RE2 (UTF-8, after ``ascii_re2``) read it alike on all text.

    Allowed: literals, classes written out, groups (plain or ``(?:``), alternation, repeats,
    ``^`` and ``\\Z``. Not allowed: ``\\b \\d \\s \\w`` and other letter escapes (Unicode-aware in
    Python, ASCII in RE2), ``.`` and ``$`` (which differ around a final newline), other ``(?``
    groups, upper-case literals (text is lower-cased) and any class or literal that could match
    a lone surrogate or ``\\x01`` (the surrogates' stand-in for UTF-8).

    >>> check_plain("(?:^|[^a-zа-я])шаг за шагом")
    '(?:^|[^a-zа-я])шаг за шагом'
    >>> check_plain(r"\\bstep")
    Traceback (most recent call last):
    ...
    ValueError: escape \\b in '\\\\bstep'
    """
    def bad(why: str) -> ValueError:
        return ValueError(f"{why} in {pattern!r}")

    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n or pattern[i + 1] not in _PLAIN_ESCAPES:
                raise bad("escape " + pattern[i : i + 2])
            i += 2
            continue
        if c in ".$":
            raise bad(f"{c!r}")
        if c == "(" and pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
            raise bad("group " + pattern[i : i + 3])
        if c == "[":
            j = i + 1 + (pattern.startswith("^", i + 1))
            members: list[tuple[str, str]] = []
            while j < n and (pattern[j] != "]" or j == i + 1):
                if pattern[j] == "\\":
                    if j + 1 >= n or pattern[j + 1] not in _PLAIN_ESCAPES - {"Z"}:
                        raise bad("escape " + pattern[j : j + 2])
                    lo = pattern[j + 1] if pattern[j + 1] != "n" else "\n"
                    j += 2
                else:
                    lo = pattern[j]
                    if lo == "[":
                        raise bad("nested '['")
                    j += 1
                if pattern.startswith("-", j) and j + 1 < n and pattern[j + 1] != "]":
                    members.append((lo, pattern[j + 1]))
                    j += 2
                else:
                    members.append((lo, lo))
            if j >= n:
                raise bad("unclosed class")
            for lo, hi in members:
                if lo > hi or (lo <= "\udfff" and hi >= "\ud800") or lo <= "\x01" <= hi:
                    raise bad(f"range {lo!r}-{hi!r}")
            i = j + 1
            continue
        if "\ud800" <= c <= "\udfff" or c == "\x01":
            raise bad(f"literal {c!r}")
        if c != c.lower():
            raise bad(f"upper-case literal {c!r}")
        i += 1
    return pattern


def _branches(pattern: str) -> list[str]:
    """The top-level alternatives of a plain pattern."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "[":
            i += 2 if pattern.startswith("[^]", i) or pattern.startswith("[]", i) else 1
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def needs_non_ascii(pattern: str) -> bool:
    """Whether every match of a plain ``pattern`` has a non-ASCII character (so ASCII text
    cannot contain one). Conservative: ``False`` when unsure.

    >>> needs_non_ascii("шаг"), needs_non_ascii("(?:a|шаг)"), needs_non_ascii("x[^a]?[éè]")
    (True, False, True)
    """
    pos = 0
    n = len(pattern)

    def alternation() -> bool:
        nonlocal pos
        found = [sequence()]
        while pos < n and pattern[pos] == "|":
            pos += 1
            found.append(sequence())
        return all(found)

    def sequence() -> bool:
        nonlocal pos
        needs = False
        while pos < n and pattern[pos] not in "|)":
            atom_needs = atom()
            at_least_one = True
            if pos < n and pattern[pos] in "?*":
                at_least_one = False
                pos += 1
            elif pos < n and pattern[pos] == "+":
                pos += 1
            elif pos < n and pattern[pos] == "{":
                end = pattern.index("}", pos)
                at_least_one = int(pattern[pos + 1 : end].split(",")[0] or "0") >= 1
                pos = end + 1
            needs = needs or (at_least_one and atom_needs)
        return needs

    def atom() -> bool:
        nonlocal pos
        c = pattern[pos]
        if c == "(":
            pos += 3 if pattern.startswith("(?:", pos) else 1
            needs = alternation()
            pos += 1  # ")"
            return needs
        if c == "[":
            negated = pattern.startswith("[^", pos)
            pos += 2 if negated else 1
            all_non_ascii, first = True, True
            while pattern[pos] != "]" or first:
                first = False
                if pattern[pos] == "\\":
                    all_non_ascii = False
                    pos += 2
                else:  # a character, or the low end of a range
                    all_non_ascii = all_non_ascii and pattern[pos] > "\x7f"
                    pos += 1
                if pattern.startswith("-", pos) and pattern[pos + 1] != "]":
                    pos += 2 if pattern[pos + 1] != "\\" else 3  # the high end: not lower
            pos += 1
            return all_non_ascii and not negated
        if c == "\\":
            pos += 2
            return False
        pos += 1
        return c > "\x7f"

    return alternation()


@dataclass(frozen=True, slots=True)
class _Definition:
    """A marker or topic: ``(?:ascii)|(?:plain)`` (see the module docstring)."""

    name: str
    ascii: str
    plain: str

    def __post_init__(self) -> None:
        if not self.ascii.isascii():
            raise ValueError(f"{self.name}: the ASCII part has a non-ASCII literal")
        check_plain(self.plain)

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.ascii})|(?:{self.plain})")

    @property
    def ascii_regex(self) -> re.Pattern[str]:
        """The definition on all-ASCII text: the ASCII part alone."""
        return re.compile(self.ascii)

    @property
    def on_ascii(self) -> str:
        """The RE2 pattern of all-ASCII text: the ASCII part, as Python reads it there."""
        return ascii_re2(self.ascii)


_MARKER_DEFS = (
    _Definition("cot", _COT_ASCII, _COT_PLAIN),
    _Definition("rubric", _RUBRIC_ASCII, _RUBRIC_PLAIN),
    _Definition("self_instruct", _SELF_INSTRUCT_ASCII, _SELF_INSTRUCT_PLAIN),
)
_TOPIC_DEFS = tuple(_Definition(name, p, _TOPIC_PLAIN[name]) for name, p in _TOPIC_ASCII)

#: The definitions, as Python regexes: the whole (text with a non-ASCII character) and the
#: ASCII part (all-ASCII text).
_COT, _RUBRIC, _SELF_INSTRUCT = (d.regex for d in _MARKER_DEFS)
_COT_A, _RUBRIC_A, _SELF_INSTRUCT_A = (d.ascii_regex for d in _MARKER_DEFS)
TOPICS: tuple[str, ...] = (
    "math", "code", "logic", "science", "writing", "finance", "food", "commonsense",
    "general",
)
_TOPIC_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (d.name, d.regex) for d in _TOPIC_DEFS)
_TOPIC_PATTERNS_A: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (d.name, d.ascii_regex) for d in _TOPIC_DEFS)


def definition_hits(lowered: str) -> tuple[bool, bool, bool, str]:
    """The definitions applied the straightforward way (Python regexes) to lower-cased text:
    (cot, rubric, self_instruct, first topic of the first 600 characters) -- what
    :func:`prompt_markers` computes fast. The plain parts count only in text with a
    non-ASCII character (module docstring).

    >>> definition_hits("piensa paso a paso"), definition_hits("piensa paso a paso, ¿sí?")[0]
    ((False, False, False, 'general'), True)
    """
    whole = not lowered.isascii()
    cot, rubric, self_instruct = (_COT, _RUBRIC, _SELF_INSTRUCT) if whole else (
        _COT_A, _RUBRIC_A, _SELF_INSTRUCT_A)
    head = lowered[:600]
    topics = _TOPIC_PATTERNS if not head.isascii() else _TOPIC_PATTERNS_A
    topic = next((name for name, p in topics if p.search(head)), "general")
    return (bool(cot.search(lowered)), bool(rubric.search(lowered)),
            bool(self_instruct.search(lowered)), topic)


def _re2_set(patterns: Sequence[str]) -> re2.Set:
    options = re2.Options()
    options.max_mem = 64 << 20  # the plain parts' DFA must not run out of memory (no match)
    compiled = re2.Set.SearchSet(options)
    for p in patterns:
        compiled.Add(p)
    compiled.Compile()
    return compiled


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STAND_IN_CACHE = 4096


@lru_cache(maxsize=_STAND_IN_CACHE)
def _stand_in(char: str) -> str:
    if re.match(r"\d", char):
        return "0"  # \d (and \w)
    if re.match(r"\s", char):
        return "\x1c"  # \s, not a literal space
    if re.match(r"\w", char):
        return "Z"  # \w; no pattern has an upper-case literal
    return "\x01"  # none of them


class _StandIns(dict[int, str]):
    """Code point -> stand-in, for ``str.translate``: remembered once looked up (at most
    :data:`_STAND_IN_CACHE` of them), so a script's characters cost one dict look-up each."""

    def __missing__(self, code: int) -> str:
        value = _stand_in(chr(code))
        if len(self) < _STAND_IN_CACHE:
            self[code] = value
        return value


_STAND_INS = _StandIns()


def py_ascii_stand_in(lowered: str) -> str:
    """``lowered`` with each non-ASCII character replaced by an ASCII one of the same regex class.

    The definition; :func:`ascii_stand_in` is the C kernel where it is built (a tenth of the
    cost: this one was 17 µs of a 960-character non-English prompt).

    >>> py_ascii_stand_in("café ١٢ x\u00a0y —") == "cafZ 00 x" + chr(0x1C) + "y " + chr(1)
    True
    """
    return _NON_ASCII_RUN.sub(lambda m: m.group().translate(_STAND_INS), lowered)


ascii_stand_in: Callable[[str], str] = native_kernel("ascii_stand_in", py_ascii_stand_in)


def utf8(lowered: str) -> bytes:
    """``lowered`` as UTF-8, a lone surrogate (which UTF-8 cannot carry) as ``\\x01``.

    >>> utf8("步" + chr(0xD800) + "x")
    b'\\xe6\\xad\\xa5\\x01x'
    """
    try:
        return lowered.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\x01", lowered).encode()


class _Sets:
    """Definitions compiled for RE2: which of them does a lower-cased text contain?"""

    def __init__(self, defs: Sequence[_Definition]) -> None:
        self.whole = _re2_set([d.on_ascii for d in defs])
        self.ascii_parts = _re2_set([ascii_re2(d.ascii) for d in defs])
        self.plain_parts = _re2_set([ascii_re2(d.plain) for d in defs])

    def match(self, lowered: str) -> Sequence[int]:
        return (self.whole.Match(lowered) or ()) if lowered.isascii() else self.match_other(lowered)

    def match_other(self, lowered: str) -> Sequence[int]:
        """:meth:`match` of text that is not all ASCII."""
        hits = self.ascii_parts.Match(ascii_stand_in(lowered)) or []
        more = self.plain_parts.Match(utf8(lowered))
        return hits + more if more else hits


_TOPIC_NAMES = tuple(d.name for d in _TOPIC_DEFS)
_MARKER_SETS = _Sets(_MARKER_DEFS)
_TOPIC_SETS = _Sets(_TOPIC_DEFS)
_ALL_SETS = _Sets([*_MARKER_DEFS, *_TOPIC_DEFS])
_N_MARKERS = len(_MARKER_DEFS)


def _first_topic(hits: Sequence[int]) -> str:
    return _TOPIC_NAMES[min(hits)] if hits else "general"


def topic_of(text: str) -> str:
    """The first matching coarse topic of a prompt, or ``general``."""
    return _first_topic(_TOPIC_SETS.match(text[:600].lower()))


def prompt_markers(text: str) -> PromptMarkers:
    """Tactic markers and coarse topic of one prompt."""
    # Instructions wrap the content: they sit at the start or the end of a prompt, so long
    # prompts (RAG contexts, pasted documents) are searched at both ends only.
    edges = (text if len(text) <= 1600 else text[:1000] + "\n" + text[-600:]).lower()
    # (The sets' match() inlined: the English fast path is as short as it was.)
    sets = _ALL_SETS if len(text) <= 600 else _MARKER_SETS
    hits = (sets.whole.Match(edges) or ()) if edges.isascii() else sets.match_other(edges)
    if len(text) <= 600:  # the topic's head is the whole text: one pass for everything
        topic = _first_topic([h - _N_MARKERS for h in hits if h >= _N_MARKERS])
    else:
        topic = topic_of(text)
    return PromptMarkers(cot=0 in hits, rubric=1 in hits, self_instruct=2 in hits, topic=topic)
