import type { NotifyEvent } from '../../drizzle/schema.ts';

/**
 * The templates a new store may start with, one per event, in Russian or Kazakh (the buyer's
 * language is the seller's choice, independent of the admin's). Review requests wait a day after
 * the order is completed. The texts use only variables whose values read the same in both languages
 * (names, numbers, the product, the shop, the pickup point, links).
 */
export type TemplateLanguage = 'ru' | 'kk';
export const TEMPLATE_LANGUAGES: readonly TemplateLanguage[] = ['ru', 'kk'];

export interface DefaultTemplate {
  event: NotifyEvent;
  name: string;
  text: string;
  delayMinutes: number;
}

export const DEFAULT_TEMPLATES: Readonly<Record<TemplateLanguage, readonly DefaultTemplate[]>> = {
  ru: [
    {
      event: 'new',
      name: 'Новый заказ',
      text: 'Здравствуйте, {first_name}! Спасибо за заказ №{order_num} в магазине «{shop_name}»: {product_name} × {item_qty} на сумму {total_amount}. Мы уже собираем его и напишем, когда он будет в пути или готов к выдаче.',
      delayMinutes: 0,
    },
    { event: 'accepted', name: 'Заказ принят', text: '{first_name}, ваш заказ №{order_num} принят в работу. Мы сообщим, когда он будет готов.', delayMinutes: 0 },
    {
      event: 'ready_for_pickup',
      name: 'Готов к выдаче',
      text: '{first_name}, заказ №{order_num} готов к выдаче в пункте {pickup_point}. Возьмите с собой код получения из приложения Kaspi.kz.',
      delayMinutes: 0,
    },
    { event: 'in_delivery', name: 'Передан в доставку', text: '{first_name}, заказ №{order_num} ({product_name}) передан в доставку и скоро будет у вас.', delayMinutes: 0 },
    {
      event: 'completed',
      name: 'Просьба об отзыве',
      text: '{first_name}, спасибо за покупку в «{shop_name}»! Если вам понравился товар «{product_name}», оставьте, пожалуйста, отзыв — это займёт минуту: {review_link}',
      delayMinutes: 24 * 60,
    },
    {
      event: 'cancelled',
      name: 'Заказ отменён',
      text: '{first_name}, к сожалению, заказ №{order_num} отменён. Если оплата была списана, Kaspi вернёт её автоматически. Будем рады видеть вас снова в «{shop_name}»!',
      delayMinutes: 0,
    },
  ],
  kk: [
    {
      event: 'new',
      name: 'Жаңа тапсырыс',
      text: 'Сәлеметсіз бе, {first_name}! «{shop_name}» дүкеніндегі №{order_num} тапсырысыңызға рақмет: {product_name} × {item_qty}, жалпы сомасы {total_amount}. Тапсырысты жинап жатырмыз, ол жолға шыққанда немесе алуға дайын болғанда хабарлаймыз.',
      delayMinutes: 0,
    },
    { event: 'accepted', name: 'Тапсырыс қабылданды', text: '{first_name}, №{order_num} тапсырысыңыз қабылданып, өңделіп жатыр. Дайын болғанда хабарлаймыз.', delayMinutes: 0 },
    {
      event: 'ready_for_pickup',
      name: 'Алуға дайын',
      text: '{first_name}, №{order_num} тапсырысыңыз {pickup_point} пунктінде алуға дайын. Kaspi.kz қосымшасындағы алу кодын ала келіңіз.',
      delayMinutes: 0,
    },
    { event: 'in_delivery', name: 'Жеткізуге берілді', text: '{first_name}, №{order_num} тапсырысыңыз ({product_name}) жеткізуге берілді, жақын арада қолыңызға тиеді.', delayMinutes: 0 },
    {
      event: 'completed',
      name: 'Пікір сұрау',
      text: '{first_name}, «{shop_name}» дүкенінен сатып алғаныңызға рақмет! «{product_name}» тауары ұнаса, пікір қалдырыңызшы — бір минуттан аспайды: {review_link}',
      delayMinutes: 24 * 60,
    },
    {
      event: 'cancelled',
      name: 'Тапсырыс жойылды',
      text: '{first_name}, өкінішке қарай, №{order_num} тапсырысыңыз жойылды. Төлем алынған болса, Kaspi оны автоматты түрде қайтарады. «{shop_name}» дүкенінде сізді қайта күтеміз!',
      delayMinutes: 0,
    },
  ],
};
