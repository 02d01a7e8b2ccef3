import { defineMessages } from '../../i18n';

export const shellMessages = defineMessages({
  en: {
    home: 'Puente home',
    inbox: 'Inbox',
    whatsapp: 'WhatsApp',
    listings: 'Listings',
    agency: 'Agency',
    browse: 'Listings',
    chats: 'My chats',
    fleet: 'Fleet',
    reports: 'Reports',
    audit: 'Audit log',
    nodes: 'Nodes',
    unreadBadge: '{n} unread',
    yourProfile: 'Your profile ({name})',
  },
  es: {
    home: 'Inicio de Puente',
    inbox: 'Bandeja',
    whatsapp: 'WhatsApp',
    listings: 'Inmuebles',
    agency: 'Agencia',
    browse: 'Inmuebles',
    chats: 'Mis chats',
    fleet: 'Flota',
    reports: 'Denuncias',
    audit: 'Auditoría',
    nodes: 'Nodos',
    unreadBadge: '{n} sin leer',
    yourProfile: 'Tu perfil ({name})',
  },
});
