// Tokenizer: special-token ids per vocabulary size (whisper.cpp's rule), decoding with the fixture's GPT-2
// vocabulary, UTF-8 assembly of characters split across tokens, suppression set and prompts.
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decoding.h"
#include "engine/greedy.h"
#include "engine/tokenizer.h"
#include "model/whisper_model.h"
#include "test_support.h"

namespace {

using npuscribe::SpecialTokens;
using npuscribe::Tokenizer;
using npuscribe::Utf8Assembler;
using npuscribe::WhisperHparams;

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

WhisperHparams hparams_with_vocab(int n_vocab) {
  WhisperHparams h;
  h.n_vocab = n_vocab;
  h.n_audio_ctx = 1500;
  h.n_audio_state = 384;
  h.n_audio_head = 6;
  h.n_audio_layer = 4;
  h.n_text_ctx = 448;
  h.n_text_state = 384;
  h.n_text_head = 6;
  h.n_text_layer = 4;
  h.n_mels = 80;
  h.ftype = 1;
  return h;
}

// Readable QCOMPARE operands.
QByteArray bytes(const std::string& s) {
  return QByteArray::fromStdString(s);
}

QByteArray ids_text(const std::vector<int>& ids) {
  QByteArray out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += QByteArray::number(ids[i]);
  }
  return out + "]";
}

bool contains(const std::vector<int>& ids, int id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Independent UTF-8 encoder (RFC 3629).
std::string utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// n copies of U+FFFD.
std::string replacements(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += kReplacement;
  return out;
}

// True if s is n >= 1 copies of U+FFFD and nothing else.
bool only_replacements(const std::string& s) {
  if (s.empty() || s.size() % kReplacement.size() != 0) return false;
  for (std::size_t i = 0; i < s.size(); i += kReplacement.size())
    if (s.compare(i, kReplacement.size(), kReplacement) != 0) return false;
  return true;
}

// Pushes the parts in order, then finishes; returns each push's output and the finish output last.
std::vector<std::string> assemble(const std::vector<std::string>& parts) {
  Utf8Assembler assembler;
  std::vector<std::string> outputs;
  for (const std::string& part : parts) outputs.push_back(assembler.push(part));
  outputs.push_back(assembler.finish());
  return outputs;
}

std::string joined(const std::vector<std::string>& outputs) {
  std::string out;
  for (const std::string& s : outputs) out += s;
  return out;
}

// Linear search of the stored vocabulary (independent of Tokenizer::find's hash map).
int vocabulary_index(const std::vector<std::string>& vocabulary, std::string_view text) {
  const auto found = std::find(vocabulary.begin(), vocabulary.end(), text);
  return found == vocabulary.end() ? -1 : static_cast<int>(found - vocabulary.begin());
}

}  // namespace

class TestTokenizer : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();

  void specialTokensEnglish();
  void specialTokensMultilingual();
  void specialTokensLargeV3();

  void fixtureDecodesForcedTokens();
  void fixtureDropsSpecialTokens();
  void fixtureSpecialTokenNames();
  void fixtureFind();

  void utf8SplitAtEveryBoundary_data();
  void utf8SplitAtEveryBoundary();
  void utf8SplitInsideText();
  void utf8AllCodePointsPassThrough();
  void utf8BoundaryCodePoints();
  void utf8InvalidBytes_data();
  void utf8InvalidBytes();
  void utf8InvalidSplitAcrossPushes();
  void utf8InvalidPrefixKeepsFollowingCharacter();
  void utf8FinishFlushesTail();
  void utf8Ascii();

  void decodeJoinsSplitCharacters();

  void suppressedTokensNonSpeech();
  void suppressedTokensKeepSpace();
  void suppressedTokensSpeechOnly();
  void suppressedTokensTimestampsAllowed();
  void promptEnglish();
  void promptMultilingual();

 private:
  std::shared_ptr<const npuscribe::WhisperModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

void TestTokenizer::initTestCase() {
  model_ = npuscribe::WhisperModel::load(npuscribe::test::fixture("ggml-tiny.en-random.bin"));
  QVERIFY(model_);
  QCOMPARE(model_->hparams().n_vocab, 51864);
  QCOMPARE(model_->vocabulary().size(), std::size_t{50257});
  tokenizer_ = std::make_unique<Tokenizer>(model_->vocabulary(), model_->hparams());
}

// ---------------------------------------------------------------------------------------------------------
// Special tokens. whisper.cpp: English-only eot 50256, sot 50257, translate 50357, transcribe 50358, solm
// 50359, prev 50360, nosp 50361, notimestamps 50362, timestamp_begin 50363. Multilingual: eot and sot + 1;
// the task/control/timestamp ids + (language_count - 98), where language_count = n_vocab - 51765 - 1.

void TestTokenizer::specialTokensEnglish() {
  const SpecialTokens s = SpecialTokens::for_hparams(hparams_with_vocab(51864));
  QCOMPARE(s.eot, 50256);
  QCOMPARE(s.sot, 50257);
  QCOMPARE(s.translate, 50357);
  QCOMPARE(s.transcribe, 50358);
  QCOMPARE(s.solm, 50359);
  QCOMPARE(s.prev, 50360);
  QCOMPARE(s.nosp, 50361);
  QCOMPARE(s.notimestamps, 50362);
  QCOMPARE(s.timestamp_begin, 50363);
  QCOMPARE(s.language_count, 0);
  // 1501 timestamps <|0.00|> .. <|30.00|> fill the rest of the vocabulary.
  QCOMPARE(51864 - s.timestamp_begin, 1501);
}

void TestTokenizer::specialTokensMultilingual() {
  const SpecialTokens s = SpecialTokens::for_hparams(hparams_with_vocab(51865));
  QCOMPARE(s.eot, 50257);
  QCOMPARE(s.sot, 50258);
  QCOMPARE(s.translate, 50358);
  QCOMPARE(s.transcribe, 50359);
  QCOMPARE(s.solm, 50360);
  QCOMPARE(s.prev, 50361);
  QCOMPARE(s.nosp, 50362);
  QCOMPARE(s.notimestamps, 50363);
  QCOMPARE(s.timestamp_begin, 50364);
  QCOMPARE(s.language_count, 99);
  QCOMPARE(s.language(0), 50259);
  QCOMPARE(s.language(2), 50261);
  QCOMPARE(s.language(98), 50357);  // the last language sits right below translate

  const std::vector<std::string> no_vocabulary;
  const Tokenizer tokenizer(no_vocabulary, hparams_with_vocab(51865));
  QCOMPARE(bytes(tokenizer.token_bytes(50259)), QByteArray("<|en|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50261)), QByteArray("<|de|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50357)), QByteArray("<|su|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50257)), QByteArray("<|endoftext|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50258)), QByteArray("<|startoftranscript|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50358)), QByteArray("<|translate|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50359)), QByteArray("<|transcribe|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50363)), QByteArray("<|notimestamps|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50364)), QByteArray("<|0.00|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(51864)), QByteArray("<|30.00|>"));

  const auto codes = npuscribe::whisper_language_codes();
  QVERIFY(codes.size() >= 100);
  QVERIFY(codes[0] == "en");
  QVERIFY(codes[1] == "zh");
  QVERIFY(codes[2] == "de");
  QVERIFY(codes[98] == "su");
  QVERIFY(codes[99] == "yue");
}

void TestTokenizer::specialTokensLargeV3() {
  const SpecialTokens s = SpecialTokens::for_hparams(hparams_with_vocab(51866));
  QCOMPARE(s.eot, 50257);
  QCOMPARE(s.sot, 50258);
  QCOMPARE(s.translate, 50359);
  QCOMPARE(s.transcribe, 50360);
  QCOMPARE(s.solm, 50361);
  QCOMPARE(s.prev, 50362);
  QCOMPARE(s.nosp, 50363);
  QCOMPARE(s.notimestamps, 50364);
  QCOMPARE(s.timestamp_begin, 50365);
  QCOMPARE(s.language_count, 100);
  QCOMPARE(s.language(0), 50259);
  QCOMPARE(s.language(99), 50358);
  QCOMPARE(51866 - s.timestamp_begin, 1501);

  const std::vector<std::string> no_vocabulary;
  const Tokenizer tokenizer(no_vocabulary, hparams_with_vocab(51866));
  QCOMPARE(bytes(tokenizer.token_bytes(50358)), QByteArray("<|yue|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50359)), QByteArray("<|translate|>"));
  QCOMPARE(bytes(tokenizer.token_bytes(50365)), QByteArray("<|0.00|>"));
}

// ---------------------------------------------------------------------------------------------------------
// The fixture vocabulary (real GPT-2 vocabulary of tiny.en).

void TestTokenizer::fixtureDecodesForcedTokens() {
  const std::vector<int> ids = {843, 523, 616, 5891, 3399, 11, 1265, 407};
  QCOMPARE(bytes(tokenizer_->decode(ids)), QByteArray(" And so my fellow Americans, ask not"));
  // Token by token as listed in jfk.meta.json.
  const char* const pieces[] = {" And", " so", " my", " fellow", " Americans", ",", " ask", " not"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    QCOMPARE(bytes(tokenizer_->token_bytes(ids[i])), QByteArray(pieces[i]));
    const int one[] = {ids[i]};
    QCOMPARE(bytes(tokenizer_->decode(one)), QByteArray(pieces[i]));
  }
  QCOMPARE(bytes(tokenizer_->decode({})), QByteArray());
}

void TestTokenizer::fixtureDropsSpecialTokens() {
  // sot, notimestamps, the text, a timestamp, eot, the last timestamp.
  const std::vector<int> ids = {50257, 50362, 843,  523, 50363 + 7, 616,  5891,
                                3399,  11,    1265, 407, 50256,     51863};
  QCOMPARE(bytes(tokenizer_->decode(ids)), QByteArray(" And so my fellow Americans, ask not"));
  const std::vector<int> only_special = {50256, 50257, 50357, 50358, 50359,
                                         50360, 50361, 50362, 50363, 51863};
  QCOMPARE(bytes(tokenizer_->decode(only_special)), QByteArray());
  for (int id : only_special) QVERIFY2(tokenizer_->is_special(id), QByteArray::number(id).constData());
  QVERIFY(!tokenizer_->is_special(50255));
  QVERIFY(!tokenizer_->is_special(0));
  QVERIFY(tokenizer_->is_timestamp(50363));
  QVERIFY(tokenizer_->is_timestamp(51863));
  QVERIFY(!tokenizer_->is_timestamp(50362));
  QCOMPARE(tokenizer_->vocab_size(), 51864);
}

void TestTokenizer::fixtureSpecialTokenNames() {
  QCOMPARE(bytes(tokenizer_->token_bytes(50256)), QByteArray("<|endoftext|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50257)), QByteArray("<|startoftranscript|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50357)), QByteArray("<|translate|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50358)), QByteArray("<|transcribe|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50359)), QByteArray("<|startoflm|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50360)), QByteArray("<|startofprev|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50361)), QByteArray("<|nospeech|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50362)), QByteArray("<|notimestamps|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50363)), QByteArray("<|0.00|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50363 + 50)), QByteArray("<|1.00|>"));  // 50 x 20 ms
  QCOMPARE(bytes(tokenizer_->token_bytes(50363 + 1)), QByteArray("<|0.02|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(50363 + 1499)), QByteArray("<|29.98|>"));
  QCOMPARE(bytes(tokenizer_->token_bytes(51863)), QByteArray("<|30.00|>"));
}

void TestTokenizer::fixtureFind() {
  const std::vector<std::string>& vocabulary = model_->vocabulary();
  QCOMPARE(tokenizer_->find(" "), 220);
  QCOMPARE(bytes(vocabulary[220]), QByteArray(" "));
  // GPT-2 byte-level BPE: the first 94 tokens are the printable ASCII bytes '!'..'~' in order.
  QCOMPARE(tokenizer_->find("!"), 0);
  QCOMPARE(tokenizer_->find("("), '(' - '!');
  QCOMPARE(tokenizer_->find("a"), 'a' - '!');
  QCOMPARE(tokenizer_->find("~"), '~' - '!');
  QCOMPARE(tokenizer_->find(" the"), 262);
  QCOMPARE(tokenizer_->find(" Americans"), 3399);
  QCOMPARE(tokenizer_->find("no such token, surely"), -1);
  QCOMPARE(tokenizer_->find(""), -1);
  // Special tokens are not found as text.
  QCOMPARE(tokenizer_->find("<|notimestamps|>"), -1);
  // Every stored token is found (a sample across the range). This vocabulary, copied from whisper.cpp's
  // for-tests model, stores the byte tokens that are not whole UTF-8 characters as U+FFFD, so some entries
  // repeat: find() must give an id holding the same bytes, the first such one.
  for (int id = 0; id < 50256; id += 97) {
    const std::string& text = vocabulary[static_cast<std::size_t>(id)];
    const int found = tokenizer_->find(text);
    QVERIFY2(found >= 0 && found <= id, QByteArray::number(id).constData());
    QCOMPARE(found, vocabulary_index(vocabulary, text));
  }
  QCOMPARE(tokenizer_->find(kReplacement), 94);  // first of the U+FFFD byte tokens
}

// ---------------------------------------------------------------------------------------------------------
// Utf8Assembler

void TestTokenizer::utf8SplitAtEveryBoundary_data() {
  QTest::addColumn<QByteArray>("character");
  QTest::newRow("2-byte U+00E9") << QByteArray("\xC3\xA9");
  QTest::newRow("2-byte U+0080") << QByteArray("\xC2\x80");
  QTest::newRow("3-byte U+20AC") << QByteArray("\xE2\x82\xAC");
  QTest::newRow("3-byte U+266A") << QByteArray("\xE2\x99\xAA");
  QTest::newRow("3-byte U+0800") << QByteArray("\xE0\xA0\x80");
  QTest::newRow("3-byte U+FFFF") << QByteArray("\xEF\xBF\xBF");
  QTest::newRow("4-byte U+1F600") << QByteArray("\xF0\x9F\x98\x80");
  QTest::newRow("4-byte U+10000") << QByteArray("\xF0\x90\x80\x80");
  QTest::newRow("4-byte U+10FFFF") << QByteArray("\xF4\x8F\xBF\xBF");
}

void TestTokenizer::utf8SplitAtEveryBoundary() {
  QFETCH(QByteArray, character);
  const std::string whole = character.toStdString();
  const int n = static_cast<int>(whole.size());
  // Every way to cut the character into consecutive non-empty pushes: one bit per inner boundary.
  for (unsigned cuts = 0; cuts < (1u << (n - 1)); ++cuts) {
    std::vector<std::string> parts;
    std::string current;
    for (int i = 0; i < n; ++i) {
      current += whole[static_cast<std::size_t>(i)];
      if (i == n - 1 || (cuts & (1u << i))) {
        parts.push_back(current);
        current.clear();
      }
    }
    const std::vector<std::string> outputs = assemble(parts);
    const QByteArray where = "cuts mask " + QByteArray::number(cuts);
    // Nothing before the last byte arrives; then the whole character, exactly once; nothing from finish().
    for (std::size_t p = 0; p + 1 < parts.size(); ++p) QVERIFY2(outputs[p].empty(), where.constData());
    QCOMPARE(bytes(outputs[parts.size() - 1]), character);
    QVERIFY2(outputs.back().empty(), where.constData());
  }
}

void TestTokenizer::utf8SplitInsideText() {
  // "a€b😀c": pushed one byte at a time, each push returns only whole characters, in order.
  const std::string text = std::string("a") + utf8(0x20AC) + "b" + utf8(0x1F600) + "c";
  Utf8Assembler assembler;
  std::vector<std::string> outputs;
  for (char byte : text) outputs.push_back(assembler.push(std::string(1, byte)));
  const std::vector<std::string> expected = {"a", "", "", utf8(0x20AC), "b", "", "", "", utf8(0x1F600), "c"};
  QCOMPARE(outputs.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) QCOMPARE(bytes(outputs[i]), bytes(expected[i]));
  QCOMPARE(bytes(assembler.finish()), QByteArray());

  // Pushed in pieces that cut both multi-byte characters.
  // Bytes: a | E2 82 AC | b | F0 9F 98 80 | c. Pieces: [a E2] [82 AC b F0] [9F 98] [80 c].
  const std::vector<std::string> outputs2 =
      assemble({text.substr(0, 2), text.substr(2, 4), text.substr(6, 2), text.substr(8)});
  QCOMPARE(bytes(outputs2[0]), QByteArray("a"));
  QCOMPARE(bytes(outputs2[1]), bytes(utf8(0x20AC) + "b"));
  QCOMPARE(bytes(outputs2[2]), QByteArray());
  QCOMPARE(bytes(outputs2[3]), bytes(utf8(0x1F600) + "c"));
  QCOMPARE(bytes(outputs2[4]), QByteArray());
}

void TestTokenizer::utf8AllCodePointsPassThrough() {
  // Every Unicode scalar value (no surrogates), in one push and in 7-byte pushes, comes out unchanged.
  std::string text;
  for (char32_t cp = 1; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    text += utf8(cp);
  }
  Utf8Assembler whole;
  std::string out = whole.push(text);
  out += whole.finish();
  QVERIFY(out == text);

  Utf8Assembler pieces;
  std::string out2;
  for (std::size_t i = 0; i < text.size(); i += 7) out2 += pieces.push(std::string_view(text).substr(i, 7));
  out2 += pieces.finish();
  QVERIFY(out2 == text);
}

void TestTokenizer::utf8BoundaryCodePoints() {
  // Valid edges around the ranges the decoder must reject.
  for (char32_t cp :
       {0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    Utf8Assembler assembler;
    QCOMPARE(bytes(assembler.push(utf8(cp))), bytes(utf8(cp)));
    QCOMPARE(bytes(assembler.finish()), QByteArray());
  }
}

void TestTokenizer::utf8InvalidBytes_data() {
  // Expected count of U+FFFD follows Unicode's "maximal subpart" practice (Unicode 15, section 3.9, U+FFFD
  // substitution): a lead byte that can never start a valid sequence, or a prefix that cannot be continued,
  // is one replacement; a stray continuation byte is one replacement.
  QTest::addColumn<QByteArray>("input");
  QTest::addColumn<QByteArray>("expected");
  const auto r = [](int n) { return QByteArray::fromStdString(replacements(n)); };
  QTest::newRow("0xFF") << QByteArray("\xFF") << r(1);
  QTest::newRow("0xFE") << QByteArray("\xFE") << r(1);
  QTest::newRow("0xF5 lead above U+10FFFF") << QByteArray("\xF5\x80\x80\x80") << r(4);
  QTest::newRow("lone continuation 0x80") << QByteArray("\x80") << r(1);
  QTest::newRow("lone continuation 0xBF") << QByteArray("\xBF") << r(1);
  QTest::newRow("overlong C0 80") << QByteArray("\xC0\x80") << r(2);
  QTest::newRow("overlong C1 BF") << QByteArray("\xC1\xBF") << r(2);
  QTest::newRow("overlong E0 80 80") << QByteArray("\xE0\x80\x80") << r(3);
  QTest::newRow("overlong F0 80 80 80") << QByteArray("\xF0\x80\x80\x80") << r(4);
  QTest::newRow("surrogate ED A0 80") << QByteArray("\xED\xA0\x80") << r(3);
  QTest::newRow("surrogate ED BF BF") << QByteArray("\xED\xBF\xBF") << r(3);
  QTest::newRow("above U+10FFFF F4 90 80 80") << QByteArray("\xF4\x90\x80\x80") << r(4);
  QTest::newRow("ASCII around 0xFF") << QByteArray(
                                            "a\xFF"
                                            "b")
                                     << ("a" + r(1) + "b");
  QTest::newRow("ASCII around lone continuation") << QByteArray("x\x80y") << ("x" + r(1) + "y");
  QTest::newRow("two leads in a row") << QByteArray("\xC3\xC3\xA9") << (r(1) + "\xC3\xA9");
}

void TestTokenizer::utf8InvalidBytes() {
  QFETCH(QByteArray, input);
  QFETCH(QByteArray, expected);
  const std::vector<std::string> outputs = assemble({input.toStdString()});
  QCOMPARE(bytes(joined(outputs)), expected);
  // Everything in the input was complete, so finish() has nothing to add.
  QCOMPARE(bytes(outputs.back()), QByteArray());
}

void TestTokenizer::utf8InvalidSplitAcrossPushes() {
  // The surrogate and the overlong form give the same replacements however they are cut into pushes.
  for (const std::string& bad :
       {std::string("\xED\xA0\x80"), std::string("\xC0\x80"), std::string("\xF4\x90\x80\x80")}) {
    const std::string all = assemble({bad}).front();
    QVERIFY(only_replacements(all));
    for (std::size_t cut = 1; cut < bad.size(); ++cut) {
      const std::vector<std::string> outputs = assemble({bad.substr(0, cut), bad.substr(cut)});
      const std::string total = joined(outputs);
      QVERIFY2(only_replacements(total), bytes(total).toHex().constData());
      QCOMPARE(bytes(total), bytes(all));
    }
  }
}

void TestTokenizer::utf8InvalidPrefixKeepsFollowingCharacter() {
  // A truncated sequence followed by a valid character: the character survives whole, the truncated bytes
  // become replacement characters only.
  for (const std::string& next : {std::string("A"), utf8(0xE9), utf8(0x20AC), utf8(0x1F600)}) {
    for (const std::string& truncated :
         {std::string("\xC3"), std::string("\xE2\x82"), std::string("\xF0\x9F\x98")}) {
      const std::string out = joined(assemble({truncated, next}));
      QVERIFY2(out.size() > next.size() && out.compare(out.size() - next.size(), next.size(), next) == 0,
               bytes(out).toHex().constData());
      QVERIFY2(only_replacements(out.substr(0, out.size() - next.size())), bytes(out).toHex().constData());
      const std::string out_one_push = joined(assemble({truncated + next}));
      QCOMPARE(bytes(out_one_push), bytes(out));
    }
  }
}

void TestTokenizer::utf8FinishFlushesTail() {
  for (const std::string& tail :
       {std::string("\xC3"), std::string("\xE2"), std::string("\xE2\x82"), std::string("\xF0"),
        std::string("\xF0\x9F"), std::string("\xF0\x9F\x98")}) {
    Utf8Assembler assembler;
    QCOMPARE(bytes(assembler.push("ok" + tail)), QByteArray("ok"));
    QCOMPARE(bytes(assembler.finish()), bytes(kReplacement));
    // finish() resets: the assembler is usable again and holds nothing.
    QCOMPARE(bytes(assembler.finish()), QByteArray());
    QCOMPARE(bytes(assembler.push("z")), QByteArray("z"));
    QCOMPARE(bytes(assembler.finish()), QByteArray());
  }
  Utf8Assembler empty;
  QCOMPARE(bytes(empty.finish()), QByteArray());
  QCOMPARE(bytes(empty.push("")), QByteArray());
}

void TestTokenizer::utf8Ascii() {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  Utf8Assembler assembler;
  QCOMPARE(bytes(assembler.push(all)), bytes(all));
  QCOMPARE(bytes(assembler.push(" And so")), QByteArray(" And so"));
  QCOMPARE(bytes(assembler.finish()), QByteArray());
  // NUL is an ordinary ASCII byte.
  Utf8Assembler nul;
  QCOMPARE(bytes(nul.push(std::string_view("a\0b", 3))), QByteArray("a\0b", 3));
}

// ---------------------------------------------------------------------------------------------------------

void TestTokenizer::decodeJoinsSplitCharacters() {
  const std::vector<std::string> vocabulary = {
      "a",         // 0
      "\xE2\x82",  // 1: first two bytes of U+20AC
      "\xAC",      // 2: its last byte
      "\xF0",      // 3: U+1F600 in three pieces
      "\x9F\x98",  // 4
      "\x80 b",    // 5: last byte, then " b"
      "\xC3",      // 6: U+00E9 in two pieces
      "\xA9",      // 7
      "\xFF",      // 8: never valid
  };
  const Tokenizer tokenizer(vocabulary, hparams_with_vocab(51864));
  const auto decode = [&](std::vector<int> ids) { return bytes(tokenizer.decode(ids)); };
  QCOMPARE(decode({1, 2}), bytes(utf8(0x20AC)));
  QCOMPARE(decode({0, 3, 4, 5}), bytes("a" + utf8(0x1F600) + " b"));
  QCOMPARE(decode({6, 7, 1, 2, 0}), bytes(utf8(0xE9) + utf8(0x20AC) + "a"));
  // Special tokens between characters are dropped without disturbing them.
  QCOMPARE(decode({50257, 6, 7, 50362, 0, 50256}), bytes(utf8(0xE9) + "a"));
  // An incomplete character at the end, an invalid byte.
  QCOMPARE(decode({0, 1}), bytes("a" + kReplacement));
  QCOMPARE(decode({0, 8, 0}), bytes("a" + kReplacement + "a"));
  // Ids outside the stored vocabulary (and negative ones) are skipped.
  QCOMPARE(decode({0, 9, -1, 0}), QByteArray("aa"));
  QCOMPARE(tokenizer.find("\xE2\x82"), 1);
  QCOMPARE(tokenizer.find("\x80 b"), 5);
}

// ---------------------------------------------------------------------------------------------------------

void TestTokenizer::suppressedTokensNonSpeech() {
  const std::vector<int> ids = npuscribe::suppressed_tokens(*tokenizer_, true, false);
  const std::vector<std::string>& vocabulary = model_->vocabulary();
  // Every control token strictly between eot (50256) and the first timestamp (50363), every timestamp.
  for (int id = 50257; id < 50363; ++id) QVERIFY2(contains(ids, id), QByteArray::number(id).constData());
  for (int id = 50363; id < 51864; ++id) QVERIFY2(contains(ids, id), QByteArray::number(id).constData());
  QVERIFY(!contains(ids, 50256));  // eot must stay sampleable
  for (int id : ids) QVERIFY2(id >= 0 && id < 51864, QByteArray::number(id).constData());
  // Non-speech symbols, looked up in the stored vocabulary by linear search.
  for (const char* symbol : {"(", " (", " -", " '", "[", " [", "\"", " \"", "*", "#", ">>"}) {
    const int id = vocabulary_index(vocabulary, symbol);
    QVERIFY2(id >= 0, symbol);
    QCOMPARE(tokenizer_->find(symbol), id);
    QVERIFY2(contains(ids, id), symbol);
  }
  QCOMPARE(vocabulary_index(vocabulary, "("), 7);  // GPT-2: '(' - '!'
  // Words, plain hyphen/quote, space and punctuation that is speech stay allowed.
  for (const char* word : {" the", "a", " And", " Americans", "-", "'", ",", "."}) {
    const int id = vocabulary_index(vocabulary, word);
    QVERIFY2(id >= 0, word);
    QVERIFY2(!contains(ids, id), word);
  }
  // No duplicates, sorted.
  QVERIFY(std::is_sorted(ids.begin(), ids.end()));
  QVERIFY(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

void TestTokenizer::suppressedTokensKeepSpace() {
  // The plain space token (220) is not a non-speech symbol: neither OpenAI Whisper (first BPE token of
  // " \u266A" etc., which always holds the symbol's first byte) nor whisper.cpp (whole-token matches only)
  // suppresses it. This vocabulary stores no token for a leading-space music symbol " \u266A" or any prefix
  // of it longer than " " (its byte tokens are stored as U+FFFD), so a prefix search that falls back to the
  // bare " " suppresses every space.
  QCOMPARE(vocabulary_index(model_->vocabulary(), " "), 220);
  for (const char* music : {" \u2669", " \u266A", " \u266B", " \u266C", " \u266D", " \u266E", " \u266F"})
    QCOMPARE(vocabulary_index(model_->vocabulary(), music), -1);
  const std::vector<int> ids = npuscribe::suppressed_tokens(*tokenizer_, true, false);
  QVERIFY2(!contains(ids, 220), "the space token \" \" (220) is suppressed");
}

void TestTokenizer::suppressedTokensSpeechOnly() {
  const std::vector<int> ids = npuscribe::suppressed_tokens(*tokenizer_, false, false);
  const int paren = vocabulary_index(model_->vocabulary(), "(");
  QVERIFY(paren >= 0);
  QVERIFY(!contains(ids, paren));
  QVERIFY(!contains(ids, vocabulary_index(model_->vocabulary(), " -")));
  // Only the control tokens and timestamps: 50257..51863.
  std::vector<int> expected;
  for (int id = 50257; id < 51864; ++id) expected.push_back(id);
  QCOMPARE(ids.size(), expected.size());
  QVERIFY(ids == expected);
}

void TestTokenizer::suppressedTokensTimestampsAllowed() {
  const std::vector<int> ids = npuscribe::suppressed_tokens(*tokenizer_, false, true);
  std::vector<int> expected;
  for (int id = 50257; id < 50363; ++id) expected.push_back(id);
  QCOMPARE(ids_text(ids), ids_text(expected));
}

namespace {
std::vector<int> no_timestamp_prompt(const Tokenizer& tokenizer, int language_index, bool translate) {
  npuscribe::DecodingOptions options;
  options.language_index = language_index;
  options.translate = translate;
  options.timestamps = false;
  return npuscribe::sot_sequence(tokenizer, options);
}
}  // namespace

void TestTokenizer::promptEnglish() {
  QCOMPARE(ids_text(no_timestamp_prompt(*tokenizer_, 0, false)), ids_text({50257, 50362}));
  // Language and task are meaningless for an English-only model and are left out.
  QCOMPARE(ids_text(no_timestamp_prompt(*tokenizer_, 2, true)), ids_text({50257, 50362}));
}

void TestTokenizer::promptMultilingual() {
  const std::vector<std::string> no_vocabulary;
  const Tokenizer multilingual(no_vocabulary, hparams_with_vocab(51865));
  // sot 50258, language index 2 ("de") = sot + 3 = 50261, translate 50358, notimestamps 50363.
  QCOMPARE(ids_text(no_timestamp_prompt(multilingual, 2, true)), ids_text({50258, 50258 + 3, 50358, 50363}));
  QCOMPARE(ids_text(no_timestamp_prompt(multilingual, 0, false)), ids_text({50258, 50259, 50359, 50363}));

  const Tokenizer large_v3(no_vocabulary, hparams_with_vocab(51866));
  QCOMPARE(ids_text(no_timestamp_prompt(large_v3, 99, true)), ids_text({50258, 50358, 50359, 50364}));
  QCOMPARE(ids_text(no_timestamp_prompt(large_v3, 2, false)), ids_text({50258, 50261, 50360, 50364}));
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
