// Every text of the public pages in Simplified Chinese (the default) and English. Elements carry
// data-t="key" (text, with data-t-n="number" for a text that counts, such as "Person {n}") or data-t-aria="key"
// (aria-label); dynamic texts come through t().

const TEXT = {
  'site.name': ['扫黑除恶线索举报', 'Report organised crime'],
  'nav.form': ['我要举报', 'Make a report'],
  'nav.status': ['查询办理进度', 'Check a report'],
  'nav.poster': ['宣传海报', 'Poster'],
  'nav.lang': ['English', '中文'],
  'form.title': ['扫黑除恶线索举报', 'Report organised crime'],
  'form.intro': [
    '请尽量选择选项，文字描述可简短。提交后您会得到一个查询码，凭它查询办理进度。您可以匿名举报。',
    'Choose from the lists where you can; a short description is enough. After sending you get a query code to follow the report. You may report anonymously.',
  ],
  'form.loading': ['正在加载表单…', 'Loading the form…'],
  'form.load_failed': ['表单加载失败，请刷新页面重试。', 'The form could not be loaded. Please reload the page.'],
  'form.required': ['带 * 的为必填项。', 'Fields marked * are required.'],
  'block.activity': ['一、违法犯罪活动', '1. The criminal activity'],
  'block.persons': ['二、被举报人（选填）', '2. The people reported (optional)'],
  'block.umbrella': ['三、“保护伞”（选填）', '3. Officials shielding them (optional)'],
  'block.reporter': ['四、举报人信息', '4. About you'],
  'f.categories': ['涉嫌违法犯罪类别（可多选）*', 'Kind of crime (choose one or more) *'],
  'f.sector': ['所属行业领域', 'Industry or sector'],
  'f.region': ['发生地区 *', 'Where it happens *'],
  'f.province': ['省（自治区、直辖市）', 'Province'],
  'f.prefecture': ['市（地区、州）', 'Prefecture or city'],
  'f.county': ['县（区、市）', 'County or district'],
  'f.time': ['发生时间', 'When'],
  'f.place': ['具体地点（选填）', 'Exact place (optional)'],
  'f.narrative': ['主要问题', 'What happened'],
  'f.narrative_hint': ['简要写明何人、何时、何地、做了什么。', 'Briefly: who, when, where and what.'],
  'f.files': ['证据材料（照片、PDF、录音、视频，选填）', 'Evidence (photos, PDF, audio, video; optional)'],
  'f.files_hint': [
    '照片中的拍摄位置、时间等信息会在上传前从本机删除，除非您选择保留。视频和录音中的此类信息无法删除，可能暴露您的身份。',
    'The place and time stored in photos are removed on this device before upload unless you choose to keep them. Videos and recordings may carry them too and cannot be cleaned; they could identify you.',
  ],
  'f.keep_meta': ['保留照片的拍摄位置、时间和文件名', 'Keep the place, time and file names of photos'],
  'f.person_name': ['姓名或绰号', 'Name or nickname'],
  'f.person_desc': ['身份、外貌等特征', 'Role, appearance, other details'],
  'f.person_phone': ['电话号码', 'Phone number'],
  'f.official_name': ['姓名', 'Name'],
  'f.official_position': ['职务', 'Position'],
  'f.official_unit': ['工作单位', 'Workplace'],
  'entry.person': ['被举报人 {n}', 'Person {n}'],
  'entry.official': ['公职人员 {n}', 'Official {n}'],
  'entry.add_person': ['再添加一人', 'Add another person'],
  'entry.add_official': ['再添加一名公职人员', 'Add another official'],
  'entry.remove_person': ['删除被举报人 {n}', 'Remove person {n}'],
  'entry.remove_official': ['删除公职人员 {n}', 'Remove official {n}'],
  'entry.added_person': ['已添加被举报人 {n}。', 'Person {n} added.'],
  'entry.added_official': ['已添加公职人员 {n}。', 'Official {n} added.'],
  'entry.removed_person': ['已删除被举报人 {n}。', 'Person {n} removed.'],
  'entry.removed_official': ['已删除公职人员 {n}。', 'Official {n} removed.'],
  'entry.full': ['最多可填写 {n} 项。', 'The form takes at most {n}.'],
  'f.mode': ['举报方式 *', 'How you report *'],
  'f.anonymous': ['匿名举报（不留个人信息）', 'Anonymously (no personal details)'],
  'f.realname': ['实名举报（便于核实和反馈）', 'With my name (helps verification and feedback)'],
  'f.name': ['姓名 *', 'Name *'],
  'f.phone': ['联系电话 *', 'Phone *'],
  'f.id_number': ['身份证号码（选填）', 'ID card number (optional)'],
  'f.address': ['联系地址（选填）', 'Address (optional)'],
  'f.contact': ['同意办案单位与我联系', 'You may contact me'],
  'choose': ['请选择', 'Choose'],
  'time.within_week': ['最近一周内', 'In the past week'],
  'time.within_month': ['最近一个月内', 'In the past month'],
  'time.within_half_year': ['最近半年内', 'In the past six months'],
  'time.within_year': ['最近一年内', 'In the past year'],
  'time.over_year': ['一年以前', 'More than a year ago'],
  'time.ongoing': ['仍在持续', 'Still going on'],
  'submit': ['提交举报', 'Send the report'],
  'working.pow': ['正在进行安全验证…', 'Checking this is a person, not a program…'],
  'working.upload': ['正在上传…', 'Uploading…'],
  'err.required': ['此项为必填项。', 'This field is required.'],
  'err.categories': ['请至少选择一个类别。', 'Choose at least one kind of crime.'],
  'err.person_name': ['请填写姓名、绰号或特征。', 'Give a name, a nickname or a description.'],
  'err.too_many_files': ['附件太多：最多 {n} 个。', 'Too many files: at most {n}.'],
  'err.too_large': ['附件太大：合计最多 {n} MB。', 'The files are too large: {n} MB at most in all.'],
  'err.strip': [
    '无法清除文件“{name}”中的位置信息。请删除该文件，或选择保留这些信息。',
    'The place and time could not be removed from "{name}". Remove the file, or choose to keep that information.',
  ],
  'err.field': ['请检查此项：', 'Please check this field: '],
  'err.invalid': [
    '举报未被接受，尚未保存。服务器提示：',
    'The report was not accepted and NOT saved. The server said: ',
  ],
  'err.fix': ['表单有误，请按提示修改后再提交。', 'Some fields need attention; see the messages next to them.'],
  'err.pow': ['安全验证失败，请重新提交。', 'The check failed; please send again.'],
  'err.rate': ['提交过于频繁，请 {n} 秒后再试。', 'Too many attempts; try again in {n} seconds.'],
  'err.unavailable': [
    '服务暂时繁忙，举报尚未保存，请稍后重新提交。',
    'The service is busy and the report was NOT saved. Please send it again later.',
  ],
  'err.network': ['网络连接失败，举报尚未保存，请重试。', 'The connection failed and the report was NOT saved. Please try again.'],
  'err.media': ['不支持的文件类型。', 'This kind of file is not accepted.'],
  'done.title': ['举报已提交', 'Your report has been received'],
  'done.code': ['您的查询码', 'Your query code'],
  'done.received': ['接收时间：', 'Received: '],
  'done.warning': [
    '请立即抄写或保存查询码。它只显示这一次，丢失后无法找回，任何人都不能为您补发。',
    'Write the query code down or save it now. It is shown only this once and cannot be recovered: nobody can give it to you again.',
  ],
  'done.copy': ['复制查询码', 'Copy the code'],
  'done.print': ['打印', 'Print'],
  'done.save': ['保存为图片', 'Save as image'],
  'done.copied': ['已复制。', 'Copied.'],
  'done.copy_failed': ['无法复制，请手工抄写。', 'Could not copy; please write it down.'],
  'done.next': ['凭查询码查询办理进度', 'Check progress with the query code'],
  'status.title': ['查询举报办理进度', 'Check a report'],
  'status.intro': [
    '输入提交举报时得到的 20 位查询码。查询码不会出现在网址中，也不会保存在本机。',
    'Enter the 20-digit query code you received. It never appears in an address and is not stored on this device.',
  ],
  'status.code': ['查询码', 'Query code'],
  'status.submit': ['查询', 'Check'],
  'status.bad_length': ['查询码是 20 位数字。', 'A query code has 20 digits.'],
  'status.bad_check': ['查询码有误，请检查是否有数字输错。', 'This code has a typing error; please check each digit.'],
  'status.unknown': [
    '暂未查到这份举报的办理信息。举报送达内部系统并登记后才会显示进度，通常需要几天，请稍后再查。',
    'There is no news of this report yet. Progress appears once it has reached the case office and been registered, usually within a few days.',
  ],
  'status.stage': ['当前阶段：', 'Current stage: '],
  'status.result': ['办理结果：', 'Result: '],
  'status.updated': ['更新日期：', 'Updated: '],
  'status.history': ['办理经过', 'Progress so far'],
  'poster.title': ['扫黑除恶 人人有责', 'Fighting organised crime is everyone\'s business'],
  'poster.text': [
    '发现黑恶势力违法犯罪线索及其“保护伞”，请扫描二维码举报。可匿名举报，信息全程加密。',
    'If you know of organised crime or the officials who shield it, scan the code to report. You may stay anonymous; reports are encrypted all the way.',
  ],
  'poster.qr_alt': ['举报网址二维码', 'QR code of the reporting site'],
  'poster.none': ['尚未配置公开网址。', 'No public address is configured.'],
  'poster.print': ['打印海报', 'Print the poster'],
};

const params = new URLSearchParams(location.search);
export let lang = params.get('lang') === 'en' ? 'en' : 'zh';

export function t(key, vars) {
  const pair = TEXT[key];
  let s = pair ? pair[lang === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', String(v));
  return s;
}

// A taxonomy item's label in the current language.
export const label = (item) => (lang === 'en' && item.en ? item.en : item.zh);

const listeners = [];
export function onLangChange(fn) {
  listeners.push(fn);
}

// Labels root and everything in it in the current language (pages call it for nodes they build).
export function translate(root) {
  const all = (sel) => [...(root.matches && root.matches(sel) ? [root] : []), ...root.querySelectorAll(sel)];
  for (const el of all('[data-t]')) el.textContent = t(el.dataset.t, el.dataset.tN && { n: el.dataset.tN });
  for (const el of all('[data-t-aria]')) el.setAttribute('aria-label', t(el.dataset.tAria));
}

function apply() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  translate(document);
  // Links to the other pages keep the language; nothing else ever goes into an address.
  for (const a of document.querySelectorAll('a[data-page]')) {
    a.href = a.dataset.page + (lang === 'en' ? '?lang=en' : '');
  }
  const sw = document.getElementById('lang');
  sw.lang = lang === 'en' ? 'zh-CN' : 'en';
  for (const fn of listeners) fn();
}

export function initLang() {
  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    history.replaceState(null, '', location.pathname + (lang === 'en' ? '?lang=en' : ''));
    apply();
  });
  apply();
}
